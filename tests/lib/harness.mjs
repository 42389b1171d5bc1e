// Starts a whole mcpreg system for one integration test file: the two test
// peers, then mcpreg-registration, mcpreg-discovery and mcpreg-gateway on
// free loopback ports, in a fresh temporary folder. MCPREG_BIN_DIR names
// the folder that contains the binaries and the mcpreg CLI.
//
// Every process writes its stdout and stderr to NAME.stdout.log and
// NAME.stderr.log in the logs folder. The folder is removed after a clean
// run and kept, with its path printed on stderr, when a test failed or a
// process did not exit with status 0 after SIGTERM.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import {
  access, appendFile, mkdir, mkdtemp, readdir, readFile, rm,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';

import { API_BASE_PATH, callApi } from './api.mjs';
import {
  fetchRegistrations, fetchRequestCount, startPeers,
} from './peers.mjs';
import {
  LOOPBACK_HOST, LoggedProcess, childEnvironment, findFreePort,
  killRunningChildren, pollUntil, probeTcpPort,
} from './process.mjs';

export const REGISTRATION = 'mcpreg-registration';
export const DISCOVERY = 'mcpreg-discovery';
export const GATEWAY = 'mcpreg-gateway';
const CLI = 'mcpreg';
const SERVICE_NAMES = [REGISTRATION, DISCOVERY, GATEWAY];

// Hosts the services may contact over plain http, passed as
// --dev-allow-hosts.
export const DEV_ALLOW_HOSTS = '127.0.0.1,localhost';

const SERVICE_READY_TIMEOUT_MS = 15000;
const DISCOVERY_READY_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 5000;
// Starts tried when a picked port was taken before its service bound it.
const START_ATTEMPTS = 3;
const CLI_TIMEOUT_MS = 15000;
const KEY_PREFIX = 'mcpreg_';

// A test process ended by a signal (the test runner's timeout, Ctrl-C)
// emits no 'exit' event, so its children are killed here before the
// signal's default action ends it.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killRunningChildren();
    process.kill(process.pid, signal);
  });
}

// Returns MCPREG_BIN_DIR after checking that it contains every binary.
async function resolveBinDir() {
  const binDir = process.env.MCPREG_BIN_DIR;
  if (!binDir) {
    throw new Error('MCPREG_BIN_DIR is not set; set it to the build folder ' +
      `that contains ${[...SERVICE_NAMES, CLI].join(', ')}`);
  }
  for (const name of [...SERVICE_NAMES, CLI]) {
    const path = join(binDir, name);
    try {
      await access(path, constants.X_OK);
    } catch {
      throw new Error(`${path} is missing or not executable; build mcpreg ` +
        'or point MCPREG_BIN_DIR at the folder that contains it');
    }
  }
  return binDir;
}

// Returns `count` distinct free loopback ports.
async function findFreePorts(count) {
  const ports = new Set();
  while (ports.size < count) {
    ports.add(await findFreePort());
  }
  return [...ports];
}

// Starts a system and returns a handle:
//   gatewayUrl, authUrl, mcpUrl  base URLs (mcpUrl has no /mcp path)
//   registrationUrl              tcp:// URL of mcpreg-registration
//   dir, logDir, logs            folders, and { NAME: { stdout, stderr } }
//   api(method, path, options)   REST call to the gateway (see api.mjs)
//   cli(args), cli.run(args)     the mcpreg CLI (see runCli below)
//   createKey({ workspace, user, name }), revokeKey(keyId)
//   issuedKeys                   every API key the CLI printed
//   registrations()              the auth server's registration count
//   requestCounts()              protocol requests seen by both peers
//   requestsSent                 requests api() sent to the gateway
//   stopProcess(name)            SIGTERM one process, returns its exit
//   stopProcesses()              stops all and checks exit statuses
//   stop({ keepLogs })           stopProcesses(), then removes the folder
// publicBaseUrl replaces the gateway's own URL as --public-base-url of the
// gateway and the worker. With clientMetadataDocument the worker uses
// client ID metadata documents, and the auth server fetches them from the
// gateway for client_id URLs of publicBaseUrl's origin.
export async function startSystem(options = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startSystemOnce(options);
    } catch (error) {
      if (attempt === START_ATTEMPTS || !(await lostPortRace(error))) {
        throw error;
      }
    }
  }
}

// Returns whether a start failed because another socket took a port that
// findFreePorts picked before its service could bind it. Such a start is
// tried again with new ports.
async function lostPortRace(error) {
  if (!error.logDir) return false;
  for (const name of await readdir(error.logDir)) {
    const text = await readFile(join(error.logDir, name), 'utf8');
    if (/address (already )?in use/i.test(text)) return true;
  }
  return false;
}

async function startSystemOnce({
  label = 'system', publicBaseUrl, clientMetadataDocument = false,
} = {}) {
  const binDir = await resolveBinDir();
  const dir = await mkdtemp(join(tmpdir(), `mcpreg-it-${label}-`));
  const logDir = join(dir, 'logs');
  const dataDir = join(dir, 'data');
  await mkdir(logDir);
  await mkdir(dataDir);

  const processes = new Map();
  const startService = (name, args) => {
    const service = new LoggedProcess(name, join(binDir, name), args,
      { logDir, env: childEnvironment(), cwd: dir });
    processes.set(name, service);
    return service;
  };

  try {
    const [registrationPort, jobsPort, gatewayPort] = await findFreePorts(3);
    const registrationUrl = `tcp://${LOOPBACK_HOST}:${registrationPort}`;
    const jobsUrl = `tcp://${LOOPBACK_HOST}:${jobsPort}`;
    const gatewayUrl = `http://${LOOPBACK_HOST}:${gatewayPort}`;
    const baseUrl = publicBaseUrl ?? gatewayUrl;

    const peers = await startPeers({
      logDir,
      cimdOrigin: clientMetadataDocument ? `${baseUrl}=${gatewayUrl}` : null,
    });
    processes.set(peers.authServer.name, peers.authServer);
    processes.set(peers.mcpServer.name, peers.mcpServer);

    const registration = startService(REGISTRATION, [
      '--listen', registrationUrl,
      '--jobs-listen', jobsUrl,
      '--data', dataDir,
      '--dev-allow-hosts', DEV_ALLOW_HOSTS,
      '--demo',
    ]);
    for (const port of [registrationPort, jobsPort]) {
      await pollUntil(() => probeTcpPort(port), {
        what: `${REGISTRATION} to accept connections on port ${port}`,
        timeoutMs: SERVICE_READY_TIMEOUT_MS,
        watched: [registration],
      });
    }

    const discovery = startService(DISCOVERY, [
      '--jobs', jobsUrl,
      '--public-base-url', baseUrl,
      '--dev-allow-hosts', DEV_ALLOW_HOSTS,
      ...(clientMetadataDocument ? ['--client-metadata-document'] : []),
    ]);
    // Tests send hundreds of concurrent calls from one address, so the
    // per-address limit is off here; hostile_gateway tests it.
    const gateway = startService(GATEWAY, [
      '--listen', `${LOOPBACK_HOST}:${gatewayPort}`,
      '--registration', registrationUrl,
      '--public-base-url', baseUrl,
      '--max-connections-per-ip', '0',
    ]);
    const services = [registration, discovery, gateway];
    await pollUntil(async () => {
      await fetch(`${gatewayUrl}${API_BASE_PATH}/mcp-servers`, {
        signal: AbortSignal.timeout(1000),
      });
      return true;
    }, {
      what: `${GATEWAY} to respond to HTTP on ${gatewayUrl}`,
      timeoutMs: SERVICE_READY_TIMEOUT_MS,
      watched: services,
    });

    const system = createHandle({
      binDir, dir, logDir, processes, registrationUrl, gatewayUrl,
      authUrl: peers.authUrl, mcpUrl: peers.mcpUrl,
    });
    await waitForDiscovery(system, services);
    return system;
  } catch (error) {
    await Promise.all([...processes.values()].map((item) => item.stop()));
    error.message += `\nlogs kept in ${logDir}`;
    error.logDir = logDir;
    throw error;
  }
}

function createHandle({
  binDir, dir, logDir, processes, registrationUrl, gatewayUrl, authUrl,
  mcpUrl,
}) {
  const issuedKeys = [];
  const logs = {};
  for (const [name, item] of processes) {
    logs[name] = { stdout: item.stdoutPath, stderr: item.stderrPath };
  }

  // Runs the CLI with --registration set, unless options.registration is
  // false, and with options.env added to its environment. Resolves
  // { code, stdout, stderr } whatever the exit status, and collects any
  // API key it printed. CLI stdout is not written to the logs folder
  // because `key create` prints the new key by design. Stderr is appended
  // to mcpreg-cli.stderr.log.
  const runCli = (args, { registration = true, env = {} } = {}) =>
    new Promise((resolve) => {
      const fullArgs = registration
        ? ['--registration', registrationUrl, ...args] : args;
      execFile(join(binDir, CLI), fullArgs, {
        env: childEnvironment(env), cwd: dir, timeout: CLI_TIMEOUT_MS,
      }, async (error, stdout, stderr) => {
        await appendFile(join(logDir, `${CLI}-cli.stderr.log`),
          `$ ${CLI} ${args.join(' ')}\n${stderr}`);
        for (const match of stdout.matchAll(/"key"\s*:\s*"([^"]+)"/g)) {
          issuedKeys.push(match[1]);
        }
        let code = 0;
        if (error) code = typeof error.code === 'number' ? error.code : null;
        resolve({ code, signal: error?.signal ?? null, stdout, stderr });
      });
    });

  // Runs the CLI and returns its stdout parsed as JSON (null when empty).
  // Throws when it exits with a status other than 0.
  const cli = async (args) => {
    const result = await runCli(args);
    if (result.code !== 0) {
      const exitDescription = result.signal
        ? `was killed by ${result.signal}`
        : `exited with status ${result.code}`;
      throw new Error(
        `${CLI} ${args.join(' ')} ${exitDescription}: ${result.stderr}`);
    }
    const text = result.stdout.trim();
    if (text === '') return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${CLI} ${args.join(' ')} printed output that is not ` +
        `JSON: ${text}`);
    }
  };
  cli.run = runCli;

  let stopPromise;
  const system = {
    dir,
    logDir,
    logs,
    gatewayUrl,
    authUrl,
    mcpUrl,
    registrationUrl,
    issuedKeys,
    cli,
    processes,

    // Number of requests api() has sent to the gateway, the harness's
    // own readiness probes included.
    requestsSent: 0,

    api(method, path, options) {
      system.requestsSent += 1;
      return callApi(gatewayUrl, method, path, options);
    },

    // Creates an API key with the CLI and checks the printed object.
    // `workspace` is 'new' or a workspace UUID. Without `user` the key is
    // a service key.
    async createKey({ workspace = 'new', user, name } = {}) {
      const args = ['key', 'create', '--workspace', workspace];
      if (user !== undefined) args.push('--user', user);
      if (name !== undefined) args.push('--name', name);
      const created = await cli(args);
      const printedObject = JSON.stringify({ ...created, key: '<hidden>' });
      if (typeof created?.key !== 'string' ||
          !created.key.startsWith(KEY_PREFIX)) {
        throw new Error(`key create printed no "${KEY_PREFIX}..." key: ` +
          printedObject);
      }
      for (const field of ['key_id', 'workspace_id']) {
        if (typeof created[field] !== 'string') {
          throw new Error(`key create printed no ${field}: ${printedObject}`);
        }
      }
      return created;
    },

    // Revokes a key with the CLI. Its output is not read, because the
    // contract specifies none for `key revoke`.
    async revokeKey(keyId) {
      const args = ['key', 'revoke', keyId];
      const result = await runCli(args);
      if (result.code !== 0) {
        throw new Error(`${CLI} ${args.join(' ')} exited with status ` +
          `${result.code ?? result.signal}: ${result.stderr}`);
      }
    },

    registrations() {
      return fetchRegistrations(authUrl);
    },

    async requestCounts() {
      const [auth, mcp] = await Promise.all([
        fetchRequestCount(authUrl), fetchRequestCount(mcpUrl),
      ]);
      return { auth, mcp };
    },

    // Stops one process with SIGTERM (SIGKILL after 5 s) and returns
    // { code, signal, killed }. stop() checks the status again.
    stopProcess(name) {
      const item = processes.get(name);
      if (!item) throw new Error(`no process named ${name}`);
      return item.stop(STOP_TIMEOUT_MS);
    },

    async logFiles() {
      const names = await readdir(logDir);
      return names.map((name) => join(logDir, name));
    },

    // Stops every process, services first. Throws if a service exited on
    // its own before stop was requested, or did not exit with status 0
    // after SIGTERM. Later calls return the first call's outcome.
    stopProcesses() {
      stopPromise ??= stopAll(processes, logDir);
      return stopPromise;
    },

    // Stops every process like stopProcesses(), then removes the folder
    // unless keepLogs is set or a process failed the exit check.
    async stop({ keepLogs = false } = {}) {
      await system.stopProcesses();
      if (keepLogs) {
        process.stderr.write(`mcpreg test logs kept in ${logDir}\n`);
      } else {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
  return system;
}

async function stopAll(processes, logDir) {
  const problems = [];
  const stopOrder = [GATEWAY, DISCOVERY, REGISTRATION, 'mcp-server',
    'auth-server'];
  for (const name of stopOrder) {
    const item = processes.get(name);
    if (!item) continue;
    const exitedOnItsOwn = !item.running && !item.stopRequested;
    const status = await item.stop(STOP_TIMEOUT_MS);
    if (!SERVICE_NAMES.includes(name)) continue;
    if (exitedOnItsOwn) {
      problems.push(`${name} ${item.describeExit()} before it was stopped; ` +
        item.logHint());
    } else if (status.killed) {
      problems.push(`${name} did not exit within ${STOP_TIMEOUT_MS} ms of ` +
        `SIGTERM and was killed; ${item.logHint()}`);
    } else if (status.code !== 0) {
      problems.push(`${name} ${item.describeExit()} after SIGTERM, ` +
        `expected status 0; ${item.logHint()}`);
    }
  }

  if (problems.length > 0) {
    throw new Error(`${problems.join('\n')}\nlogs kept in ${logDir}`);
  }
}

// Waits until mcpreg-discovery takes jobs. The probe registers an OAuth
// MCP server whose URL is a closed loopback port, in a workspace of its
// own, and calls oauth-provider until the response is anything other than
// 503 service_unavailable. Nothing listens on that port, so neither peer
// is contacted. If the probe server cannot be created, the wait is skipped
// and the tests report the failure themselves.
async function waitForDiscovery(system, services) {
  const key = await pollUntil(() => system.createKey({
    workspace: 'new', user: 'harness-probe', name: 'harness-probe',
  }), {
    what: `${CLI} key create to succeed against ${REGISTRATION}`,
    timeoutMs: SERVICE_READY_TIMEOUT_MS,
    watched: services,
  });

  const closedPort = await findFreePort();
  const created = await pollUntil(async () => {
    const response = await system.api('POST', '/mcp-servers', {
      key: key.key,
      body: {
        name: 'harness-discovery-probe',
        url: `http://${LOOPBACK_HOST}:${closedPort}/mcp`,
        auth_type: 'oauth',
        oauth_mode: 'per_user_dynamic_client',
      },
    });
    const unavailable = response.status === 503 &&
      response.json?.code === 'service_unavailable';
    return unavailable ? undefined : response;
  }, {
    what: `${GATEWAY} to reach ${REGISTRATION}`,
    timeoutMs: SERVICE_READY_TIMEOUT_MS,
    watched: services,
  });
  if (created.status !== 201 || typeof created.json?.id !== 'string') {
    process.stderr.write('harness: skipped the discovery readiness probe ' +
      `because creating its MCP server returned ${created.status}\n`);
    return;
  }

  const path = `/mcp-servers/${created.json.id}`;
  await pollUntil(async () => {
    const response = await system.api('POST', `${path}/oauth-provider`, {
      key: key.key, body: {},
    });
    const unavailable = response.status === 503 &&
      response.json?.code === 'service_unavailable';
    return unavailable ? undefined : response;
  }, {
    what: `${DISCOVERY} to take jobs (oauth-provider kept returning 503 ` +
      'service_unavailable)',
    timeoutMs: DISCOVERY_READY_TIMEOUT_MS,
    watched: services,
  });
  await system.api('DELETE', path, { key: key.key });
}

// Registers node:test hooks that start a system before the file's tests
// and stop it after them. Returns a handle that reads through to the
// system once before() has started it. `setup(system)`, if given, runs in
// the same hook right after the start: Node 20 does not wait for one
// top-level before() hook to finish before it runs the next. The logs are
// kept when any test of the file failed.
export function useSystem({ label, setup, ...options } = {}) {
  const system = {};
  let anyTestFailed = false;
  before(async () => {
    // A prototype link rather than a copy, so that counters such as
    // requestsSent stay current.
    Object.setPrototypeOf(system, await startSystem({ label, ...options }));
    if (setup) await setup(system);
  }, { timeout: 120000 });
  afterEach((t) => {
    if (!t.passed) anyTestFailed = true;
  });
  after(async () => {
    if (system.stop) await system.stop({ keepLogs: anyTestFailed });
  }, { timeout: 60000 });
  return system;
}
