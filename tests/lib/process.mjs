// Child processes for the integration tests: start with logs captured to
// files, wait for readiness, stop with SIGTERM and check the exit status.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOOPBACK_HOST = '127.0.0.1';
const POLL_INTERVAL_MS = 100;

// Environment for every child process. Settings of a developer's shell
// must not reconfigure the services under test, and proxy variables are
// dropped so that libcurl and other clients connect to loopback directly.
export function childEnvironment(extra = {}) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('MCPREG_')) continue;
    if (/^(https?|all|no|ftp)_proxy$/i.test(name)) continue;
    env[name] = value;
  }
  env.NO_PROXY = '127.0.0.1,localhost';
  env.no_proxy = env.NO_PROXY;
  return { ...env, ...extra };
}

// Returns a TCP port on 127.0.0.1 that was free a moment ago. The OS picks
// it (listen on port 0) and the port is released right away, so another
// process may take it before the caller binds it. The C services take a
// fixed port on their command line, so startSystem (harness.mjs) starts
// again with new ports when a service finds its port in use.
export async function findFreePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Children still running. They get SIGKILL when this process exits, for
// example after a test hook timed out, so that no service outlives its run.
const runningChildren = new Set();

// Sends SIGKILL to every child process that is still running.
export function killRunningChildren() {
  for (const child of runningChildren) child.kill('SIGKILL');
}

process.on('exit', killRunningChildren);

// A child process whose stdout and stderr go to NAME.stdout.log and
// NAME.stderr.log in the log folder.
export class LoggedProcess {
  constructor(name, command, args, { logDir, env, cwd }) {
    this.name = name;
    this.command = command;
    this.args = args;
    this.stdoutPath = join(logDir, `${name}.stdout.log`);
    this.stderrPath = join(logDir, `${name}.stderr.log`);
    this.exitStatus = null;
    this.stopRequested = false;
    this.stdoutLines = [];
    this.lineWaiters = [];

    this.child = spawn(command, args, {
      cwd, env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    runningChildren.add(this.child);
    const stdoutFile = createWriteStream(this.stdoutPath);
    const stderrFile = createWriteStream(this.stderrPath);
    this.child.stdout.pipe(stdoutFile);
    this.child.stderr.pipe(stderrFile);
    this.flushed = Promise.all([
      new Promise((resolve) => stdoutFile.on('close', resolve)),
      new Promise((resolve) => stderrFile.on('close', resolve)),
    ]);

    let partialLine = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      const lines = (partialLine + chunk).split('\n');
      partialLine = lines.pop();
      for (const line of lines) this.acceptStdoutLine(line);
    });

    this.exited = new Promise((resolve) => {
      const settle = (code, signal) => {
        if (this.exitStatus !== null) return;
        runningChildren.delete(this.child);
        this.exitStatus = { code, signal };
        for (const waiter of this.lineWaiters) waiter();
        resolve(this.exitStatus);
      };
      // A command that cannot be started emits 'error' and may never emit
      // 'close'.
      this.child.once('error', (error) => {
        this.spawnError = error;
        settle(null, null);
      });
      this.child.once('close', settle);
    });
  }

  acceptStdoutLine(line) {
    this.stdoutLines.push(line);
    for (const waiter of this.lineWaiters) waiter();
  }

  get running() {
    return this.exitStatus === null;
  }

  // Describes where to look when this process misbehaves.
  logHint() {
    return `read ${this.stderrPath} and ${this.stdoutPath}`;
  }

  describeExit() {
    if (this.spawnError) {
      return `could not be started (${this.spawnError.message})`;
    }
    const { code, signal } = this.exitStatus;
    return signal ? `was killed by ${signal}` : `exited with status ${code}`;
  }

  // Resolves with the first stdout line that parses as JSON with
  // "ready": true. Rejects if the process exits first or the wait times out.
  async waitForReadyLine(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let checked = 0;
    for (;;) {
      for (; checked < this.stdoutLines.length; checked += 1) {
        const line = this.stdoutLines[checked];
        let message;
        try {
          message = JSON.parse(line);
        } catch {
          continue;
        }
        if (message?.ready === true) return message;
      }
      if (!this.running) {
        throw new Error(`${this.name} ${this.describeExit()} before it ` +
          `printed its ready line; ${this.logHint()}`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`${this.name} printed no ready line within ` +
          `${timeoutMs} ms; ${this.logHint()}`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 500));
        this.lineWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.lineWaiters = [];
    }
  }

  // Sends SIGTERM, waits up to `timeoutMs`, then sends SIGKILL. Returns
  // { code, signal, killed }, where killed is true if SIGKILL was needed.
  async stop(timeoutMs = 5000) {
    this.stopRequested = true;
    if (!this.running) {
      await this.flushed;
      return { ...this.exitStatus, killed: false };
    }
    this.child.kill('SIGTERM');
    const timeout = sleep(timeoutMs).then(() => 'timeout');
    const outcome = await Promise.race([this.exited, timeout]);
    let killed = false;
    if (outcome === 'timeout') {
      killed = true;
      this.child.kill('SIGKILL');
      await this.exited;
    }
    await this.flushed;
    return { ...this.exitStatus, killed };
  }
}

// Polls until `probe` resolves to a value other than undefined, and returns
// it. Fails early if one of `watched` (LoggedProcess objects) exits, naming
// that process and its logs. `what` describes the awaited condition.
export async function pollUntil(probe, { what, timeoutMs, watched = [] }) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    for (const watchedProcess of watched) {
      if (!watchedProcess.running) {
        throw new Error(`${watchedProcess.name} ` +
          `${watchedProcess.describeExit()} while waiting for ${what}; ` +
          `${watchedProcess.logHint()}`);
      }
    }
    try {
      const result = await probe();
      if (result !== undefined) return result;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const hints = watched.map((item) => `${item.name}: ${item.logHint()}`);
      const cause = lastError ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ` +
        `${what}${cause}; ${hints.join('; ')}`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

// Resolves true once a TCP connection to 127.0.0.1:`port` succeeds and
// undefined when it is refused, for use with pollUntil.
export function probeTcpPort(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK_HOST, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', () => resolve(undefined));
  });
}
