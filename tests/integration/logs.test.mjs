// Runs the whole flow, stops the system and checks its logs and store. No
// API key, header secret or OAuth client secret may appear in any log file,
// and no MCP server header name or value in the RocksDB files. Every
// service must exit with status 0, and its stdout must be JSON lines that
// carry request ids.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { assertForbidden, assertStatus } from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
  unissuedKeyLike,
} from '../lib/fixtures.mjs';
import {
  DISCOVERY, GATEWAY, REGISTRATION, useSystem,
} from '../lib/harness.mjs';
import { fetchRegisteredClient } from '../lib/peers.mjs';

const system = useSystem({ label: 'logs' });

const KEY_PREFIX = 'mcpreg_';
// Secret values the flow handled, as [label, value].
const secrets = [];
// The header server of the flow: its name, stored in plaintext, and its
// header name and value, which the store must keep sealed.
const headerServer = {};
function addSecret(label, value) {
  assert.equal(typeof value, 'string', `${label} must be a string`);
  assert.ok(value.length >= 8, `${label} is too short to search for`);
  secrets.push([label, value]);
  // A log line may drop the well-known prefix and keep the secret part.
  if (value.startsWith(KEY_PREFIX) && value.length - KEY_PREFIX.length >= 16) {
    secrets.push([`${label} without prefix`, value.slice(KEY_PREFIX.length)]);
  }
}

test('whole flow succeeds', async () => {
  const suffix = uniqueSuffix();
  const alice = await system.createKey({ user: `alice-${suffix}` });
  const service = await system.createKey({
    workspace: alice.workspace_id, name: 'service',
  });
  const revoked = await system.createKey({
    workspace: alice.workspace_id, user: `revoked-${suffix}`,
  });

  const headerSecret = `header-secret-${uniqueSuffix()}${uniqueSuffix()}`;
  const headerName = `X-Tenant-${uniqueSuffix()}`;
  await createServer(system, alice.key, {
    name: `headers-${suffix}`,
    url: mcpEndpoint(system),
    auth_type: 'headers',
    headers: [
      { key: 'Authorization', value: `Bearer ${headerSecret}` },
      { key: headerName, value: 'tenant' },
    ],
  });
  addSecret('header value', headerSecret);
  Object.assign(headerServer, {
    name: `headers-${suffix}`, headerName, headerSecret,
  });

  const oauthServer = await createServer(system, alice.key,
    oauthServerBody(mcpEndpoint(system)));
  const providerPath = `/mcp-servers/${oauthServer.id}/oauth-provider`;
  const callProvider = (options) =>
    system.api('POST', providerPath, options);
  assertStatus(await callProvider({ key: alice.key }), 200);
  assertStatus(await callProvider({
    key: service.key, body: { ls_user_id: `bob-${suffix}` },
  }), 200);
  assertStatus(await callProvider({ key: alice.key }), 200);

  await system.revokeKey(revoked.key_id);
  const listServers = (key) => system.api('GET', '/mcp-servers', { key });
  assertForbidden(await listServers(revoked.key));
  const unknownKey = unissuedKeyLike(alice.key);
  assertForbidden(await listServers(unknownKey));
  addSecret('unknown key', unknownKey);

  // key list prints key metadata and no secret.
  const listed = await system.cli(
    ['key', 'list', '--workspace', alice.workspace_id]);
  assert.ok(Array.isArray(listed), 'key list must print a JSON array');
  const listedIds = listed.map((item) => item.key_id);
  for (const created of [alice, service, revoked]) {
    assert.ok(listedIds.includes(created.key_id),
      `key list lacks ${created.key_id}`);
    assert.ok(!JSON.stringify(listed).includes(created.key),
      'key list must not print a key');
  }

  // Every key the CLI printed, including the harness's probe key.
  for (const [index, key] of system.issuedKeys.entries()) {
    addSecret(`API key ${index}`, key);
  }

  const { client_ids: clientIds } = await system.registrations();
  assert.ok(clientIds.length >= 2, 'expected two registered clients');
  for (const clientId of clientIds) {
    const client = await fetchRegisteredClient(system.authUrl, clientId);
    if (client.client_secret) {
      addSecret(`client_secret of ${clientId}`, client.client_secret);
    }
  }

  // The worker's line of each job names the client it registered, so that
  // an orphan whose reply was lost can still be found. Info lines reach
  // the file within about 100 ms.
  const named = (lines, clientId) => lines.some((line) =>
    line.msg_id === 'disc.job.done' && line.client_id === clientId &&
    typeof line.issuer === 'string' && line.issuer !== '');
  let jobLines = [];
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const workerLog = await readFile(system.logs[DISCOVERY].stdout, 'utf8');
    jobLines = workerLog.split('\n').filter(Boolean).map(JSON.parse);
    if (clientIds.every((clientId) => named(jobLines, clientId))) break;
    await sleep(100);
  }
  for (const clientId of clientIds) {
    assert.ok(named(jobLines, clientId),
      `no disc.job.done line names client ${clientId}`);
  }
});

test('store files contain no header', async () => {
  assert.ok(headerServer.headerSecret, 'needs the server from the flow test');
  const dataDir = join(system.dir, 'data');
  const names = await readdir(dataDir,
    { recursive: true, withFileTypes: true });
  const files = names.filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
  const contents = await Promise.all(files.map((file) => readFile(file)));

  // While the service runs, its records are in the write-ahead log, which
  // RocksDB 7.8 writes uncompressed by default, unlike the SST files of a
  // flush. The server name is stored in plaintext beside the headers, so
  // finding it shows that this search can read stored values.
  assert.ok(contents.some((bytes) => bytes.includes(headerServer.name)),
    `no file under ${dataDir} contains the server name: ${files}`);
  for (const [index, bytes] of contents.entries()) {
    const file = basename(files[index]);
    assert.ok(!bytes.includes(headerServer.headerSecret),
      `${file} contains the header value`);
    assert.ok(!bytes.includes(headerServer.headerName),
      `${file} contains the header name`);
  }
});

test('services exit 0 on SIGTERM', async () => {
  // Stopping here flushes every log before the search below. It throws
  // when a service did not exit with status 0 after SIGTERM.
  await system.stopProcesses();
});

test('logs contain no secret', async () => {
  assert.ok(secrets.length > 0, 'needs the secrets from the flow test');
  const files = await system.logFiles();
  assert.ok(files.length >= 10, `expected every process's logs: ${files}`);
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const [label, value] of secrets) {
      assert.ok(!text.includes(value), `${basename(file)} contains ${label}`);
    }
  }
});

test('service stdout is JSON lines', async () => {
  const requestIdLines = {};
  for (const name of [GATEWAY, REGISTRATION, DISCOVERY]) {
    const text = await readFile(system.logs[name].stdout, 'utf8');
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    requestIdLines[name] = 0;
    for (const line of lines) {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        assert.fail(`${name} stdout line is not JSON: ${line}`);
      }
      assert.equal(typeof entry, 'object', `${name}: ${line}`);
      assert.notEqual(entry, null, `${name}: ${line}`);
      if (typeof entry.request_id === 'string' && entry.request_id !== '') {
        requestIdLines[name] += 1;
      }
    }
  }
  assert.ok(requestIdLines[GATEWAY] >= system.requestsSent,
    `${GATEWAY} logged ${requestIdLines[GATEWAY]} lines with request_id ` +
    `for ${system.requestsSent} requests`);
  assert.ok(requestIdLines[REGISTRATION] > 0,
    `${REGISTRATION} logged no line with request_id`);
  assert.ok(requestIdLines[DISCOVERY] > 0,
    `${DISCOVERY} logged no line with request_id`);
});
