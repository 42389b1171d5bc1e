// Sealing key rotation with the real processes: data sealed under the
// harness's demo key (id 1) does not open with a new key alone, opens after
// `mcpreg-registration --reseal` with the new key current and the demo key
// retired, and then opens with the new key only. --reseal is rejected while
// the service holds the store.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import { assertError, assertStatus } from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import { REGISTRATION, useSystem } from '../lib/harness.mjs';
import { restartProcess, untilNot503 } from '../lib/faults.mjs';
import { childEnvironment } from '../lib/process.mjs';

const RUN_TIMEOUT_MS = 30000;
const TABLES = ['prov', 'opclient', 'srv', 'clientdel'];

let key;
const system = useSystem({
  label: 'key-rotation',
  setup: async () => {
    key = await system.createKey({ user: `rotate-${uniqueSuffix()}` });
  },
});

// Runs mcpreg-registration with args and resolves { code, stdout, stderr }
// whatever its exit status.
function runRegistration(args) {
  return new Promise((resolve) => {
    execFile(join(process.env.MCPREG_BIN_DIR, REGISTRATION), args, {
      env: childEnvironment(), cwd: system.dir, timeout: RUN_TIMEOUT_MS,
    }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

// Runs --reseal on the harness's store and returns the parsed summary.
async function reseal(keyFile, retired) {
  const result = await runRegistration([
    '--reseal', '--data', join(system.dir, 'data'),
    '--secret-key-file', keyFile, '--secret-key-id', '2',
    '--retired-key-files', retired,
  ]);
  assert.equal(result.code, 0, `--reseal failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

// Restarts the stopped registration service with only keyFile, id 2.
async function restartWithNewKey(keyFile) {
  await restartProcess(system, REGISTRATION, {
    flags: { '--secret-key-file': keyFile, '--secret-key-id': '2' },
  });
}

async function stopRegistration() {
  const exit = await system.stopProcess(REGISTRATION);
  assert.equal(exit.code, 0, `${REGISTRATION} must stop cleanly`);
}

function getServer(id) {
  return untilNot503(() => system.api('GET', `/mcp-servers/${id}`,
    { key: key.key }), { what: `GET of MCP server ${id}` });
}

test('reseal moves stored secrets to new key', async () => {
  const headerServer = await createServer(system, key.key, {
    name: `headers-${uniqueSuffix()}`,
    url: mcpEndpoint(system),
    headers: [{ key: 'Authorization', value: `Bearer ${uniqueSuffix()}` }],
    auth_type: 'headers',
  });
  const oauthServer = await createServer(system, key.key,
    oauthServerBody(mcpEndpoint(system)));
  const registered = await system.api('POST',
    `/mcp-servers/${oauthServer.id}/oauth-provider`,
    { key: key.key, body: {} });
  assert.equal(registered.status, 200, describeResponse(registered));
  const providerId = registered.json.oauth_provider_id;
  const showProvider = () => system.cli(['provider', 'show',
    '--workspace', key.workspace_id, '--id', providerId]);
  const before = await showProvider();

  const newKey = join(system.dir, 'new-secret.key');
  const demoKey = join(system.dir, 'data', 'demo-secret.key');
  await writeFile(newKey, `${randomBytes(32).toString('hex')}\n`,
    { mode: 0o600 });

  // The new key alone cannot open the headers sealed under the demo key.
  await stopRegistration();
  await restartWithNewKey(newKey);
  assertError(await getServer(headerServer.id), 500, 'internal_error');
  await stopRegistration();

  const first = await reseal(newKey, `1:${demoKey}`);
  assert.equal(first.failed, 0);
  assert.equal(first.tables.srv.rewritten, 1, 'the server with headers');
  assert.equal(first.tables.prov.rewritten, 1, 'the provider mapping');
  assert.deepEqual(Object.keys(first.tables), TABLES);

  const second = await reseal(newKey, `1:${demoKey}`);
  assert.equal(second.rewritten, 0, 'a second run has nothing to do');
  assert.equal(second.failed, 0);
  assert.equal(second.current, first.current + first.rewritten);

  // With the demo key gone, everything opens with the new key only.
  await rename(demoKey, `${demoKey}.retired`);
  await restartWithNewKey(newKey);
  const read = await getServer(headerServer.id);
  assertStatus(read, 200);
  assert.deepEqual(read.json.headers.map((header) => header.key),
    ['Authorization']);
  assert.deepEqual(await showProvider(), before);

  const rejected = await runRegistration([
    '--reseal', '--data', join(system.dir, 'data'),
    '--secret-key-file', newKey, '--secret-key-id', '2',
  ]);
  assert.equal(rejected.code, 1, rejected.stderr);
  assert.match(rejected.stderr, /stop the registration service/);
  assert.equal(rejected.stdout, '');
});
