// Fault injection for the robustness tests: signals to one process,
// restarts with changed flags, a second gateway, a TCP tarpit that keeps a
// discovery job waiting, and a seeded random number generator.
//
// Restarted processes log to NAME.rN.stdout.log and NAME.rN.stderr.log, and
// replace the old entry of system.processes, so that system.stop() stops and
// checks them as it does the originals.
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { GATEWAY, REGISTRATION } from './harness.mjs';
import {
  LOOPBACK_HOST, LoggedProcess, childEnvironment, findFreePort, pollUntil,
  probeTcpPort,
} from './process.mjs';

const READY_TIMEOUT_MS = 20000;
const EXIT_TIMEOUT_MS = 10000;
// Bound on the wait for a process to stop after SIGSTOP.
const STOP_TIMEOUT_MS = 2000;

// Returns a function that yields floats in [0, 1) from a 32-bit seed
// (mulberry32), so that a failing run can be replayed.
export function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Returns the value that follows `flag` in args.
export function flagValue(args, flag) {
  const index = args.indexOf(flag);
  if (index < 0 || index + 1 >= args.length) {
    throw new Error(`${flag} is missing from ${args.join(' ')}`);
  }
  return args[index + 1];
}

// Returns a copy of args with each flag of `flags` ({'--max-jobs': '1'})
// set to its value, replaced when present and appended when not.
export function withFlags(args, flags) {
  const result = [...args];
  for (const [flag, value] of Object.entries(flags)) {
    const index = result.indexOf(flag);
    if (index >= 0) {
      result[index + 1] = String(value);
    } else {
      result.push(flag, String(value));
    }
  }
  return result;
}

// Waits until every thread of process `pid` is stopped. kill(2) returns
// before the threads stop, and one can still reply to a request meanwhile.
async function untilStopped(pid) {
  const deadline = performance.now() + STOP_TIMEOUT_MS;
  for (;;) {
    const tasks = await readdir(`/proc/${pid}/task`);
    const states = await Promise.all(tasks.map(async (task) => {
      const stat = await readFile(`/proc/${pid}/task/${task}/stat`, 'utf8')
        .catch(() => '');
      // The state follows the command name, which is in parentheses.
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }));
    if (states.every((state) => state === 'T' || state === 't' ||
      state === '')) return;
    if (performance.now() > deadline) {
      throw new Error(`process ${pid} did not stop within ` +
        `${STOP_TIMEOUT_MS} ms of SIGSTOP`);
    }
    await sleep(5);
  }
}

// Sends `signal` to the process `name` and, unless it is SIGSTOP or
// SIGCONT, waits for it to exit. Returns { code, signal, elapsedMs }.
export async function signalProcess(system, name, signal) {
  const item = system.processes.get(name);
  if (!item) throw new Error(`no process named ${name}`);
  const started = performance.now();
  item.stopRequested = true;
  item.child.kill(signal);
  if (signal === 'SIGSTOP') {
    await untilStopped(item.child.pid);
  }
  if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
    return { code: null, signal: null, elapsedMs: 0 };
  }
  const timeout = sleep(EXIT_TIMEOUT_MS).then(() => 'timeout');
  const outcome = await Promise.race([item.exited, timeout]);
  if (outcome === 'timeout') {
    item.child.kill('SIGKILL');
    await item.exited;
    throw new Error(`${name} did not exit within ${EXIT_TIMEOUT_MS} ms of ` +
      `${signal}; ${item.logHint()}`);
  }
  await item.flushed;
  return { ...item.exitStatus, elapsedMs: performance.now() - started };
}

const restartCounts = new Map();

// Starts the process `name` again with its previous arguments, changed by
// `flags`, and waits until it is ready. The old process must have exited.
export async function restartProcess(system, name, { flags = {} } = {}) {
  const old = system.processes.get(name);
  if (!old) throw new Error(`no process named ${name}`);
  if (old.running) throw new Error(`${name} is still running`);

  const count = (restartCounts.get(name) ?? 0) + 1;
  restartCounts.set(name, count);
  const args = withFlags(old.args, flags);
  const item = new LoggedProcess(`${name}.r${count}`, old.command, args,
    { logDir: system.logDir, env: childEnvironment(), cwd: system.dir });
  system.processes.set(name, item);
  await waitReady(name, item, args);
  return item;
}

// Waits until a service accepts connections on its listening ports. The
// discovery worker listens on none, so callers check that it took a job.
async function waitReady(name, item, args) {
  const ports = [];
  if (name === REGISTRATION) {
    ports.push(portOf(flagValue(args, '--listen')));
    ports.push(portOf(flagValue(args, '--jobs-listen')));
  } else if (name.startsWith(GATEWAY)) {
    ports.push(portOf(flagValue(args, '--listen')));
  }
  for (const port of ports) {
    await pollUntil(() => probeTcpPort(port), {
      what: `${name} to accept connections on port ${port}`,
      timeoutMs: READY_TIMEOUT_MS,
      watched: [item],
    });
  }
}

function portOf(address) {
  return Number(/:(\d+)$/.exec(address)[1]);
}

// Starts a second gateway that dials the same registration service, with
// the first gateway's flags changed by `flags`. Returns { url, process,
// api(method, path, options) }. system.stop() does not know it: stop it with
// its process.stop().
export async function startExtraGateway(system, callApi, { flags = {} } = {}) {
  const first = system.processes.get(GATEWAY);
  const port = await findFreePort();
  const args = withFlags(first.args,
    { ...flags, '--listen': `${LOOPBACK_HOST}:${port}` });
  const item = new LoggedProcess(`${GATEWAY}-extra-${port}`, first.command,
    args, { logDir: system.logDir, env: childEnvironment(), cwd: system.dir });
  await waitReady(GATEWAY, item, args);
  const url = `http://${LOOPBACK_HOST}:${port}`;
  return {
    url,
    process: item,
    api: (method, path, options) => callApi(url, method, path, options),
  };
}

// Starts one more copy of the process `name` (a gateway or a worker) with
// its arguments changed by `flags`, and waits until its listening ports, if
// any, accept connections. system.stop() does not know it: stop it with
// its stop().
export async function startExtraProcess(system, name, { flags = {} } = {}) {
  const first = system.processes.get(name);
  const args = withFlags(first.args, flags);
  const count = (restartCounts.get(`${name}-extra`) ?? 0) + 1;
  restartCounts.set(`${name}-extra`, count);
  const item = new LoggedProcess(`${name}-extra${count}`, first.command, args,
    { logDir: system.logDir, env: childEnvironment(), cwd: system.dir });
  await waitReady(name, item, args);
  return item;
}

// Sends HTTP/1.1 requests one after another on one keep-alive TCP
// connection to 127.0.0.1:port and returns [{ status, headers, body }].
// Each request is { method, path, headers }. It rejects when the
// connection closes or no full response arrives within timeoutMs.
export function exchangeOnOneConnection(port, requests, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOOPBACK_HOST, port });
    const responses = [];
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response within ${timeoutMs} ms on one ` +
        `connection; got ${responses.length} of ${requests.length}`));
    }, timeoutMs);
    const fail = (error) => {
      clearTimeout(timer);
      reject(error);
    };
    const sendNext = () => {
      const request = requests[responses.length];
      const lines = [`${request.method} ${request.path} HTTP/1.1`,
        `Host: ${LOOPBACK_HOST}:${port}`, 'Content-Length: 0'];
      for (const [name, value] of Object.entries(request.headers ?? {})) {
        lines.push(`${name}: ${value}`);
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    };
    socket.on('connect', sendNext);
    socket.on('error', fail);
    socket.on('close', () => {
      if (responses.length < requests.length) {
        fail(new Error(`the connection closed after ${responses.length} ` +
          `of ${requests.length} responses`));
      }
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const headers = {};
        for (const line of head.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] =
            line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const body = buffer.subarray(end + 4, end + 4 + length).toString();
        buffer = buffer.subarray(end + 4 + length);
        responses.push({
          status: Number(head[0].split(' ')[1]), headers, body,
        });
        if (responses.length === requests.length) {
          clearTimeout(timer);
          socket.destroy();
          resolve(responses);
          return;
        }
        sendNext();
      }
    });
  });
}

// Calls `call` until its response is not a 503, or throws after
// timeoutMs. Returns the last response.
export async function untilNot503(call, { what, timeoutMs = READY_TIMEOUT_MS,
  watched = [] } = {}) {
  return pollUntil(async () => {
    const response = await call();
    return response.status === 503 ? undefined : response;
  }, { what, timeoutMs, watched });
}

// A TCP server on 127.0.0.1 that accepts connections and never replies,
// so an MCP server URL on its port keeps a discovery job waiting. Returns
// { port, url, accepted, waitForConnection(count), close() }, where
// accepted counts the connections accepted so far.
export async function startTarpit() {
  const sockets = new Set();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `http://${LOOPBACK_HOST}:${port}/mcp`,
    get accepted() {
      return accepted;
    },
    // Resolves once `count` connections have been accepted in total.
    waitForConnection(count = 1, timeoutMs = 10000) {
      return pollUntil(() => (accepted >= count ? true : undefined), {
        what: `${count} connections to the tarpit on port ${port}`,
        timeoutMs,
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// Returns the path of the oauth-provider route of a server.
export function providerPath(serverId) {
  return `/mcp-servers/${serverId}/oauth-provider`;
}
