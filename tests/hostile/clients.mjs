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

// Opens a connection to 127.0.0.1:port, writes `text` (a string or a list
// of strings written in order) and collects what the server sends until
// it closes the connection, a whole response arrived, or timeoutMs passes.
// Resolves { data, closed, elapsedMs, error }. closed is true when the
// server ended the connection. `progress.received`, when given, is
// set to the bytes received so far.
export function rawExchange(port, text, {
  timeoutMs = 10000, progress = {},
} = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks = [];
    let settled = false;
    const socket = net.connect(port, LOOPBACK_HOST);
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
      if (responseComplete(Buffer.concat(chunks).toString('latin1'))) {
        finish(false);
      }
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (error) => finish(true, error.code ?? String(error)));
  });
}

// Opens a connection that sends the start of a request and then nothing,
// as a slowloris client does. Resolves { socket, closed } once connected;
// closed is a promise of the elapsed ms at which the server closed it.
export function openIdleClient(port) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, LOOPBACK_HOST);
    const closed = new Promise((resolveClosed) => {
      socket.on('close', () => resolveClosed(performance.now() - started));
    });
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write('GET /v1/deepagents/mcp-servers HTTP/1.1\r\n' +
        'Host: 127.0.0.1\r\n');
      resolve({ socket, closed });
    });
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
