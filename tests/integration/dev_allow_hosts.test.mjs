// --dev-allow-hosts in both services: an invalid entry stops each of them
// with the same message, and a CIDR range alone lets mcpreg-registration
// accept plain http for IP literals inside it, as the discovery worker
// does. The services run by hand here, because the harness passes one
// allow-list to every test file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  LOOPBACK_HOST, LoggedProcess, childEnvironment, findFreePort, pollUntil,
  probeTcpPort,
} from '../lib/process.mjs';

const REGISTRATION = 'mcpreg-registration';
const DISCOVERY = 'mcpreg-discovery';
const RUN_TIMEOUT_MS = 15000;
const READY_TIMEOUT_MS = 15000;

let binDir;
let dir;

before(async () => {
  binDir = process.env.MCPREG_BIN_DIR;
  assert.ok(binDir, 'set MCPREG_BIN_DIR to the folder of the binaries');
  dir = await mkdtemp(join(tmpdir(), 'mcpreg-it-allow-'));
});

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

// Runs a binary of MCPREG_BIN_DIR and resolves { code, stdout, stderr }
// whatever its exit status.
function run(name, args) {
  return new Promise((resolve) => {
    execFile(join(binDir, name), args, {
      env: childEnvironment(), cwd: dir, timeout: RUN_TIMEOUT_MS,
    }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

test('invalid entry stops both services alike', async () => {
  const list = 'localhost, 10.0.0.0/33';
  const [rpcPort, jobsPort] = [await findFreePort(), await findFreePort()];
  const jobsUrl = `tcp://${LOOPBACK_HOST}:${jobsPort}`;

  const registration = await run(REGISTRATION, [
    '--listen', `tcp://${LOOPBACK_HOST}:${rpcPort}`, '--jobs-listen', jobsUrl,
    '--data', join(dir, 'unused'), '--demo', '--dev-allow-hosts', list,
  ]);
  const discovery = await run(DISCOVERY, [
    '--jobs', jobsUrl, '--dev-allow-hosts', list,
  ]);

  assert.equal(registration.code, 2, registration.stderr);
  assert.equal(discovery.code, 2, discovery.stderr);
  assert.match(registration.stderr, /^mcpreg-registration: invalid --dev-/);
  assert.match(discovery.stderr, /^mcpreg-discovery: invalid --dev-/);
  const reason = (stderr) => stderr.slice(stderr.indexOf(': ') + 2);
  assert.match(reason(registration.stderr),
    /^invalid --dev-allow-hosts: entry "10\.0\.0\.0\/33" has prefix/);
  assert.equal(reason(registration.stderr), reason(discovery.stderr));
});

test('range alone admits http to an IP literal', async () => {
  const [rpcPort, jobsPort] = [await findFreePort(), await findFreePort()];
  const registrationUrl = `tcp://${LOOPBACK_HOST}:${rpcPort}`;
  const registration = new LoggedProcess(REGISTRATION,
    join(binDir, REGISTRATION), [
      '--listen', registrationUrl,
      '--jobs-listen', `tcp://${LOOPBACK_HOST}:${jobsPort}`,
      '--data', join(dir, 'data'), '--demo',
      '--dev-allow-hosts', '127.0.0.0/8',
    ], { logDir: dir, env: childEnvironment(), cwd: dir });

  // The service checks the issuer before it looks up the MCP server, so
  // an issuer it accepts gets mcp_server_not_found for this unknown id.
  const addClient = (issuer) => run('mcpreg', [
    '--registration', registrationUrl, 'client', 'add',
    '--workspace', randomUUID(), '--server', randomUUID(),
    '--issuer', issuer, '--client-id', 'operator-client',
  ]);

  try {
    await pollUntil(() => probeTcpPort(rpcPort), {
      what: `${REGISTRATION} to accept connections on port ${rpcPort}`,
      timeoutMs: READY_TIMEOUT_MS,
      watched: [registration],
    });
    for (const issuer of ['http://127.0.0.1:9/', 'https://localhost:9/']) {
      const result = await addClient(issuer);
      assert.match(result.stderr, /\(mcp_server_not_found\)$/m,
        `${issuer}: ${result.stderr}`);
    }
    const refused = await addClient('http://localhost:9/');
    assert.match(refused.stderr,
      /--dev-allow-hosts, and 'localhost' is not one of them \(invalid_field\)/);
  } finally {
    const exit = await registration.stop();
    assert.equal(exit.code, 0, `${REGISTRATION} ${registration.describeExit()}`
      + `; ${registration.logHint()}`);
  }
});
