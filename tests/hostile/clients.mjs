// Hostile HTTP clients for the gateway's security tests: raw TCP sockets
// on loopback that send partial or oversized requests and measure how the
// gateway ends them.
import net from 'node:net';

import { LOOPBACK_HOST } from '../lib/process.mjs';

// Returns whether data contains one whole HTTP response with a
// Content-Length body (or none).
function responseComplete(data) {
  const split = data.indexOf('\r\n\r\n');
  if (split < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(data.slice(0, split));
  return data.length - (split + 4) >= (length ? Number(length[1]) : 0);
}

// Opens a TCP connection to 127.0.0.1:port, from localAddress when given
// (any address of 127.0.0.0/8, which Linux routes to loopback), else from
// the address the system picks.
function connectFrom(port, localAddress) {
  return net.connect({ port, host: LOOPBACK_HOST, localAddress });
}

// Opens a connection to 127.0.0.1:port, writes `text` (a string or a list
// of strings written in order) and collects what the server sends until
// it closes the connection, a whole response arrived (unless untilClose is
// set), or timeoutMs passes. Resolves { data, closed, elapsedMs, error }.
// closed is true when the server ended the connection.
// `progress.received`, when given, is set to the bytes received so far.
// localAddress sets the source address, as in connectFrom.
export function rawExchange(port, text, {
  timeoutMs = 10000, progress = {}, untilClose = false, localAddress,
} = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks = [];
    let settled = false;
    const socket = connectFrom(port, localAddress);
    const finish = (closed, error = null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({
        data: Buffer.concat(chunks).toString('latin1'),
        closed,
        elapsedMs: performance.now() - started,
        error,
      });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => {
      for (const part of [text].flat()) socket.write(part);
    });
    progress.received = 0;
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      progress.received += chunk.length;
      if (!untilClose &&
          responseComplete(Buffer.concat(chunks).toString('latin1'))) {
        finish(false);
      }
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (error) => finish(true, error.code ?? String(error)));
  });
}

// Opens a connection that sends the start of a request and then nothing,
// as a slowloris client does, from localAddress when given (see
// connectFrom). Resolves { socket, closed, received } once connected;
// closed is a promise of the elapsed ms at which the server closed it, and
// received() the bytes the server sent.
export function openIdleClient(port, { localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connectFrom(port, localAddress);
    let received = 0;
    const closed = new Promise((resolveClosed) => {
      socket.on('close', () => resolveClosed(performance.now() - started));
    });
    socket.on('data', (chunk) => { received += chunk.length; });
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write('GET /v1/deepagents/mcp-servers HTTP/1.1\r\n' +
        'Host: 127.0.0.1\r\n');
      resolve({ socket, closed, received: () => received });
    });
    socket.once('error', reject);
  });
}

// Opens a connection that writes `head` at once and then the bytes of
// `trickle` one at a time, one every intervalMs, as a slowloris client
// does, until all are sent or the server closes the connection. Resolves
// once connected with { socket, closed, sent, received }: closed is a
// promise of the elapsed ms at which the server closed the connection,
// sent() the bytes of `trickle` written so far, and received() what the
// server sent, as latin1 text. localAddress sets the source address, as in
// connectFrom.
export function openTrickleClient(port, {
  head = '', trickle, intervalMs, localAddress,
}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connectFrom(port, localAddress);
    const chunks = [];
    let sent = 0;
    let timer = null;
    const closed = new Promise((resolveClosed) => {
      socket.on('close', () => {
        clearInterval(timer);
        resolveClosed(performance.now() - started);
      });
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.once('connect', () => {
      if (head !== '') socket.write(head);
      timer = setInterval(() => {
        if (sent >= trickle.length) {
          clearInterval(timer);
          return;
        }
        socket.write(trickle[sent]);
        sent += 1;
      }, intervalMs);
      resolve({
        socket,
        closed,
        sent: () => sent,
        received: () => Buffer.concat(chunks).toString('latin1'),
      });
    });
    socket.once('error', reject);
  });
}

// Opens a connection for several requests in turn (HTTP keep-alive).
// Resolves once connected with { socket, closed, request }. closed is a
// promise of the elapsed ms at which the server closed the connection.
// request(text, { pieces, intervalMs, timeoutMs }) writes text in
// `pieces` slices of about equal length, one every intervalMs, and
// resolves { data, closed, elapsedMs } like rawExchange, with elapsedMs
// counted from the first slice.
export function openKeepAliveClient(port) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, LOOPBACK_HOST);
    let pending = null;
    let isClosed = false;
    const closed = new Promise((resolveClosed) => {
      socket.on('close', () => {
        isClosed = true;
        pending?.finish(true);
        resolveClosed(performance.now() - started);
      });
    });
    socket.on('data', (chunk) => pending?.add(chunk));
    socket.on('error', () => {});

    const request = (text, {
      pieces = 1, intervalMs = 0, timeoutMs = 10000,
    } = {}) =>
      new Promise((resolveRequest) => {
        const requestStarted = performance.now();
        const chunks = [];
        let trickle = null;
        const finish = (closedNow) => {
          clearTimeout(timer);
          clearInterval(trickle);
          pending = null;
          resolveRequest({
            data: Buffer.concat(chunks).toString('latin1'),
            closed: closedNow,
            elapsedMs: performance.now() - requestStarted,
          });
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        pending = {
          finish,
          add: (chunk) => {
            chunks.push(chunk);
            if (responseComplete(Buffer.concat(chunks).toString('latin1'))) {
              finish(false);
            }
          },
        };
        if (isClosed) {
          finish(true);
          return;
        }
        const size = Math.ceil(text.length / pieces);
        let sent = size;
        socket.write(text.slice(0, size));
        trickle = setInterval(() => {
          if (sent >= text.length) {
            clearInterval(trickle);
            return;
          }
          socket.write(text.slice(sent, sent + size));
          sent += size;
        }, intervalMs);
      });

    socket.once('connect', () => resolve({ socket, closed, request }));
    socket.once('error', reject);
  });
}

// Returns the status code of the first HTTP response in data, or null.
export function statusOf(data) {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(data);
  return match ? Number(match[1]) : null;
}

// Returns the parsed JSON body of the first HTTP response in data, or
// undefined when it has none. Handles a Content-Length body only.
export function jsonBodyOf(data) {
  const split = data.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  try {
    return JSON.parse(data.slice(split + 4));
  } catch {
    return undefined;
  }
}
