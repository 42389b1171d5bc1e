// How discovery obtains a client when registration is not the way: a
// client that the operator stored with `mcpreg client add` for the MCP
// server and issuer, and the typed error when there is none. Also how the
// operator lists and removes those clients, that they go with their MCP
// server, and what the CLI prints for input it cannot use. The MCP server
// and its authorization server are a scripted fake (tests/fake/).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { open, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';

import { assertError, assertStatus, assertUuid } from '../lib/assertions.mjs';
import { createServer, oauthServerBody } from '../lib/fixtures.mjs';
import { flagValue, signalProcess } from '../lib/faults.mjs';
import { REGISTRATION, useSystem } from '../lib/harness.mjs';
import { findFreePort } from '../lib/process.mjs';
import {
  json, postsBesidesProbe, serverMetadata, startScriptedFake, wellBehaved,
} from '../fake/scenarios.mjs';

let key;
let workspaceId;

const system = useSystem({
  label: 'discovery-clients',
  setup: async () => {
    const created = await system.createKey({
      user: 'clients-user', name: 'clients',
    });
    key = created.key;
    workspaceId = created.workspace_id;
  },
});

// The script of a server whose metadata has no registration_endpoint.
function withoutRegistration() {
  return wellBehaved({
    '/.well-known/oauth-authorization-server': json(
      serverMetadata('{{origin}}', { registrationEndpoint: null })),
  });
}

// Starts a fake with routes and creates an OAuth MCP server for it.
// Returns { scripted, server }; close scripted.fake when done.
async function setUp(routes) {
  const scripted = await startScriptedFake(routes);
  const server = await createServer(system, key,
    oauthServerBody(scripted.mcpUrl));
  return { scripted, server };
}

function callProvider(server) {
  return system.api('POST', `/mcp-servers/${server.id}/oauth-provider`,
    { key, body: {} });
}

function addClient(args) {
  return system.cli.run(['client', 'add', '--workspace', workspaceId,
    ...args]);
}

// Returns the operator clients of the workspace that `mcpreg client list`
// prints, or those of one server.
async function listClients(serverId) {
  const args = ['client', 'list', '--workspace', workspaceId];
  if (serverId !== undefined) args.push('--server', serverId);
  return system.cli(args);
}

function removeClient(serverId, issuer) {
  return system.cli(['client', 'remove', '--workspace', workspaceId,
    '--server', serverId, '--issuer', issuer]);
}

test('operator client skips registration', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const secretFile = join(system.dir, 'operator-secret');
    await writeFile(secretFile, 'operator-secret-value\n', { mode: 0o600 });
    const added = await addClient(['--server', server.id,
      '--issuer', scripted.url, '--client-id', 'operator-client',
      '--client-secret-file', secretFile]);
    assert.equal(added.code, 0, added.stderr);
    const printed = JSON.parse(added.stdout);
    assert.equal(printed.client_id, 'operator-client');
    assert.equal(printed.replaced, false);
    assert.ok(!added.stdout.includes('operator-secret-value'),
      'the CLI must not print the secret');

    const response = await callProvider(server);
    assertStatus(response, 200);
    assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
    const log = await scripted.requests();
    assert.deepEqual(postsBesidesProbe(log), [],
      'an operator client needs no registration');
    assert.equal(log.counts['GET /.well-known/oauth-authorization-server'], 1,
      'discovery still reads the issuer from the metadata');
  } finally {
    await scripted.fake.close();
  }
});

test('operator client wins over registration', async () => {
  const { scripted, server } = await setUp(wellBehaved());
  try {
    const added = await addClient(['--server', server.id,
      '--issuer', `${scripted.url}/`, '--client-id', 'public-operator']);
    assert.equal(added.code, 0, added.stderr);

    assertStatus(await callProvider(server), 200);
    assert.deepEqual(postsBesidesProbe(await scripted.requests()), [],
      'the operator client comes before dynamic registration');
  } finally {
    await scripted.fake.close();
  }
});

test('operator client of other issuer unused', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const added = await addClient(['--server', server.id,
      '--issuer', `${scripted.url}/tenant/other`,
      '--client-id', 'other-issuer-client']);
    assert.equal(added.code, 0, added.stderr);

    const response = await callProvider(server);
    assertError(response, 400, 'registration_not_supported');
    assert.match(response.json.detail, /mcpreg client add/);
    assert.deepEqual(postsBesidesProbe(await scripted.requests()), []);
  } finally {
    await scripted.fake.close();
  }
});

test('client add replaces same issuer', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const args = ['--server', server.id, '--issuer', scripted.url];
    const first = await addClient([...args, '--client-id', 'first']);
    const second = await addClient([...args, '--client-id', 'second']);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(JSON.parse(first.stdout).replaced, false);
    assert.equal(JSON.parse(second.stdout).replaced, true);
  } finally {
    await scripted.fake.close();
  }
});

test('client add stores one issuer form', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const withSlash = await addClient(['--server', server.id,
      '--issuer', `${scripted.url}/`, '--client-id', 'slash-form']);
    assert.equal(withSlash.code, 0, withSlash.stderr);
    assert.equal(JSON.parse(withSlash.stdout).issuer, scripted.url,
      'the trailing / of an empty path is dropped');
    const without = await addClient(['--server', server.id,
      '--issuer', scripted.url, '--client-id', 'bare-form']);
    assert.equal(without.code, 0, without.stderr);
    assert.equal(JSON.parse(without.stdout).replaced, true,
      'both forms name one issuer');

    const listed = await listClients(server.id);
    assert.deepEqual(listed.map((item) => [item.issuer, item.client_id]),
      [[scripted.url, 'bare-form']]);

    assertStatus(await callProvider(server), 200);
    assert.deepEqual(postsBesidesProbe(await scripted.requests()), [],
      'discovery finds the client under its stored issuer');
  } finally {
    await scripted.fake.close();
  }
});

// A UUID option takes either case and is used, and printed, in lower case.
test('client add prints ids in lower case', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const added = await addClient(['--server', server.id.toUpperCase(),
      '--issuer', scripted.url, '--client-id', 'upper-case']);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).mcp_server_id, server.id);
  } finally {
    await scripted.fake.close();
  }
});

test('client list hides secrets', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const secret = `list-secret-${server.id}`;
    const secretFile = join(system.dir, 'list-secret');
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    const added = await addClient(['--server', server.id,
      '--issuer', scripted.url, '--client-id', 'confidential',
      '--client-secret-file', secretFile]);
    assert.equal(added.code, 0, added.stderr);
    const publicAdded = await addClient(['--server', server.id,
      '--issuer', `${scripted.url}/public`, '--client-id', 'public']);
    assert.equal(publicAdded.code, 0, publicAdded.stderr);

    const listed = await system.cli.run(['client', 'list',
      '--workspace', workspaceId, '--server', server.id]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(!listed.stdout.includes(secret), 'no secret is printed');
    const clients = JSON.parse(listed.stdout);
    assert.deepEqual(clients.map((item) => [item.client_id,
      item.client_secret_set]), [['confidential', true], ['public', false]]);
    // Added without --auth-method, each shows the default it gets.
    assert.deepEqual(clients.map((item) => item.auth_method),
      ['client_secret_basic', 'none']);
    for (const item of clients) {
      assert.equal(item.mcp_server_id, server.id);
      assert.equal(item.workspace_id, workspaceId);
    }

    const everything = await listClients();
    assert.equal(
      everything.filter((item) => item.mcp_server_id === server.id).length,
      2, 'the workspace list includes the server\'s clients');
  } finally {
    await scripted.fake.close();
  }
});

test('client remove stops its use', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const added = await addClient(['--server', server.id,
      '--issuer', scripted.url, '--client-id', 'removable']);
    assert.equal(added.code, 0, added.stderr);

    const removed = await removeClient(server.id, `${scripted.url}/`);
    assert.equal(removed.removed, true);
    const again = await removeClient(server.id, scripted.url);
    assert.equal(again.removed, false, 'a second remove finds nothing');
    assert.deepEqual(await listClients(server.id), []);

    const response = await callProvider(server);
    assertError(response, 400, 'registration_not_supported');
  } finally {
    await scripted.fake.close();
  }
});

test('server delete removes its clients', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const added = await addClient(['--server', server.id,
      '--issuer', scripted.url, '--client-id', 'goes-with-server']);
    assert.equal(added.code, 0, added.stderr);
    assert.equal((await listClients(server.id)).length, 1);

    assertStatus(await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key }), 204);
    const left = (await listClients())
      .filter((item) => item.mcp_server_id === server.id);
    assert.deepEqual(left, [], 'no operator client outlives its server');
    const listed = await system.cli.run(['client', 'list',
      '--workspace', workspaceId, '--server', server.id]);
    assert.equal(listed.code, 1);
    assert.match(listed.stderr, /\(mcp_server_not_found\)/);
  } finally {
    await scripted.fake.close();
  }
});

test('client add rejects invalid input', async (t) => {
  const { scripted, server } = await setUp(withoutRegistration());
  const secretFile = join(system.dir, 'reject-secret');
  await writeFile(secretFile, 'x', { mode: 0o600 });
  const base = ['--issuer', scripted.url, '--client-id', 'c'];
  const cases = [
    ['unknown server', ['--server', '00000000-0000-4000-8000-000000000000',
      ...base], 'mcp_server_not_found'],
    ['secret method without secret', ['--server', server.id, ...base,
      '--auth-method', 'client_secret_post'], 'missing_required_field'],
    ['none with secret', ['--server', server.id, ...base,
      '--auth-method', 'none', '--client-secret-file', secretFile],
    'invalid_field'],
    ['unknown method', ['--server', server.id, ...base,
      '--auth-method', 'private_key_jwt'], 'invalid_field'],
    ['issuer with query', ['--server', server.id, '--issuer',
      `${scripted.url}/?tenant=1`, '--client-id', 'c'], 'invalid_field'],
    ['issuer not https', ['--server', server.id, '--issuer',
      'http://as.invalid', '--client-id', 'c'], 'invalid_field'],
    ['issuer with fragment', ['--server', server.id, '--issuer',
      `${scripted.url}/#tenant`, '--client-id', 'c'], 'invalid_field'],
    ['issuer not absolute', ['--server', server.id, '--issuer',
      'as.invalid/tenant', '--client-id', 'c'], 'invalid_field'],
  ];
  try {
    for (const [label, args, code] of cases) {
      await t.test(label, async () => {
        const result = await addClient(args);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, new RegExp(`\\(${code}\\)`));
      });
    }
  } finally {
    await scripted.fake.close();
  }
});

test('client add errors name the input', async () => {
  const { scripted, server } = await setUp(withoutRegistration());
  try {
    const issuer = await addClient(['--server', server.id, '--issuer',
      'not a url', '--client-id', 'c']);
    assert.equal(issuer.code, 1, issuer.stderr);
    assert.match(issuer.stderr, /'issuer'/);
    assert.match(issuer.stderr, /\(invalid_field\)/);
    assert.doesNotMatch(issuer.stderr, /'url'|MCP server/,
      'the issuer is not the MCP server URL');

    const directory = await addClient(['--server', server.id, '--issuer',
      scripted.url, '--client-id', 'c', '--client-secret-file', system.dir]);
    assert.equal(directory.code, 2, directory.stderr);
    assert.match(directory.stderr, /is a directory/);
    assert.doesNotMatch(directory.stderr, /empty|NUL/);
  } finally {
    await scripted.fake.close();
  }
});

test('key revoke rejects a non-UUID id', async () => {
  const secret = 'mcpreg_not-a-key-id';
  const result = await system.cli.run(['key', 'revoke', secret]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /KEY_ID is not a UUID/);
  assert.doesNotMatch(result.stderr, /api_key_not_found/);
  assert.ok(!result.stderr.includes(secret),
    'the argument may be an API key, so it is not printed');
});

// Runs `mcpreg key create` with stdout as `stdout` (a descriptor, or
// 'pipe' for a pipe whose reader closes at once), where no output can be
// written, and returns { code, signal, stderr }.
async function createKeyUnprinted(stdout) {
  const child = spawn(join(process.env.MCPREG_BIN_DIR, 'mcpreg'),
    ['--registration', system.registrationUrl, 'key', 'create',
      '--workspace', workspaceId, '--name', 'unprinted'],
    { stdio: ['ignore', stdout, 'pipe'] });
  if (stdout === 'pipe') child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const [code, signal] = await once(child, 'exit');
  return { code, signal, stderr };
}

// The CLI revokes a key whose secret never reached the caller, because
// the caller cannot use it. The cases are a full disk and a reader that
// left (EPIPE, not a SIGPIPE that kills the CLI first).
test('key create revokes an unprinted key', async () => {
  const full = await open('/dev/full', 'w');
  const results = [];
  try {
    results.push(await createKeyUnprinted(full.fd));
  } finally {
    await full.close();
  }
  results.push(await createKeyUnprinted('pipe'));

  const listed = await system.cli(['key', 'list', '--workspace', workspaceId]);
  for (const result of results) {
    assert.equal(result.signal, null, result.stderr);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /writing the output failed/);
    const keyId = result.stderr.match(/revoked the new key ([0-9a-f-]{36})/);
    assert.ok(keyId, result.stderr);
    const unprinted = listed.find((k) => k.key_id === keyId[1]);
    assert.ok(unprinted, 'the key is listed');
    assert.notEqual(unprinted.revoked_at, null);
  }
});

// UUID options are checked before any call, as usage errors (exit 2),
// and options of mcpreg itself after the command are named as such.
test('CLI usage errors exit 2', async () => {
  const badWorkspace = await system.cli.run(['key', 'list', '--workspace',
    'not-a-uuid']);
  assert.equal(badWorkspace.code, 2, badWorkspace.stderr);
  assert.match(badWorkspace.stderr, /--workspace: expected a UUID/);

  const badId = await system.cli.run(['provider', 'show', '--workspace',
    workspaceId, '--id', '{0}']);
  assert.equal(badId.code, 2, badId.stderr);
  assert.match(badId.stderr, /--id: expected a UUID/);

  const late = await system.cli.run(['key', 'list', '--workspace',
    workspaceId, '--timeout-ms', '500']);
  assert.equal(late.code, 2, late.stderr);
  assert.match(late.stderr, /put it before the command/);
  const beforeSubcommand = await system.cli.run(['key', '--timeout-ms',
    '500', 'list', '--workspace', workspaceId]);
  assert.equal(beforeSubcommand.code, 2, beforeSubcommand.stderr);
  assert.match(beforeSubcommand.stderr, /put it before the command/);

  const shortHelp = await system.cli.run(['key', 'list', '-h']);
  assert.equal(shortHelp.code, 0, shortHelp.stderr);
  assert.match(shortHelp.stdout, /usage: mcpreg key/);
});

// Leaves a socket file at path that nothing listens on: a process binds
// it and is killed, as a killed service would leave its ipc:// address.
async function leaveStaleSocket(path) {
  const child = spawn(process.execPath, ['-e',
    'require("node:net").createServer().listen(process.argv[1], ' +
    '() => process.kill(process.pid, "SIGKILL"))', path]);
  const [, signal] = await once(child, 'exit');
  assert.equal(signal, 'SIGKILL');
  assert.ok((await stat(path)).isSocket(), `${path} is not a socket`);
}

// Nothing listens at these addresses, so the CLI fails after its 2 s
// start-up grace instead of waiting out --timeout-ms: a tcp:// port that
// refuses connections, an ipc:// path with no socket file, and one whose
// socket file is left from a killed process.
test('CLI fails fast where nothing listens', async (t) => {
  const timeoutMs = 20000;
  const refusedPort = await findFreePort();
  const stalePath = join(system.dir, 'stale.ipc');
  await leaveStaleSocket(stalePath);
  const cases = [
    [`tcp://127.0.0.1:${refusedPort}`, 'refused the connection'],
    [`ipc://${system.dir}/no-such.ipc`, 'is missing'],
    [`ipc://${stalePath}`, 'refused the connection (a socket file left ' +
      'by a service that stopped), still after 2000 ms'],
  ];
  for (const [url, reason] of cases) {
    await t.test(url, async () => {
      const started = performance.now();
      const result = await system.cli.run(['--registration', url,
        '--timeout-ms', String(timeoutMs), 'key', 'list',
        '--workspace', workspaceId]);
      const elapsedMs = performance.now() - started;

      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /service_unavailable/);
      assert.ok(result.stderr.includes(reason), result.stderr);
      assert.ok(elapsedMs < timeoutMs / 4,
        `the CLI took ${Math.round(elapsedMs)} ms`);
    });
  }
});

// A socket path longer than a Unix socket address takes (107 bytes) can
// never connect, so it is a usage error that names the length, not a wait.
test('CLI rejects an ipc:// path too long for a socket', async () => {
  const path = `${system.dir}/${'p'.repeat(120)}.ipc`;
  const result = await system.cli.run(['--registration', `ipc://${path}`,
    '--timeout-ms', '20000', 'key', 'list', '--workspace', workspaceId]);
  assert.equal(result.code, 2, result.stderr);
  assert.ok(result.stderr.includes(`is ${path.length} bytes`), result.stderr);
  assert.match(result.stderr, /at most 107/);
});

// A port that refuses connections at first but listens within the 2 s
// start-up grace, as a service started just before the command does, is
// tried. This listener closes each connection without nng's handshake, so
// the CLI then fails at once.
test('CLI waits for a service that is starting', async () => {
  const port = await findFreePort();
  const listener = createNetServer((socket) => socket.destroy());
  const listening = setTimeout(() => listener.listen(port, '127.0.0.1'), 500);
  try {
    const result = await system.cli.run(['--registration',
      `tcp://127.0.0.1:${port}`, '--timeout-ms', '20000', 'key', 'list',
      '--workspace', workspaceId]);
    assert.equal(result.code, 1, result.stderr);
    assert.doesNotMatch(result.stderr, /refused/);
    assert.match(result.stderr,
      /closed the connection during nng's handshake/);
  } finally {
    clearTimeout(listening);
    listener.close();
  }
});

// A peer that resets each connection as it accepts it fails at once, as
// one that closes it does, instead of leaving nng to redial until
// --timeout-ms.
test('CLI names a peer that resets', async () => {
  const timeoutMs = 20000;
  const listener = createNetServer((socket) => socket.resetAndDestroy());
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  try {
    const started = performance.now();
    const result = await system.cli.run(['--registration',
      `tcp://127.0.0.1:${listener.address().port}`, '--timeout-ms',
      String(timeoutMs), 'key', 'list', '--workspace', workspaceId]);
    const elapsedMs = performance.now() - started;

    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr,
      /closed the connection during nng's handshake/);
    assert.ok(elapsedMs < timeoutMs / 4,
      `the CLI took ${Math.round(elapsedMs)} ms`);
  } finally {
    listener.close();
  }
});

// A host that does not resolve fails at once: a starting service would
// not change that. tcp4:// with an IPv6 literal fails in getaddrinfo
// without a DNS query.
test('CLI fails at once on an unresolvable host', async () => {
  const started = performance.now();
  const result = await system.cli.run(['--registration',
    'tcp4://[::1]:7401', 'key', 'list', '--workspace', workspaceId]);
  const elapsedMs = performance.now() - started;

  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /cannot resolve the host/);
  assert.ok(elapsedMs < 1000, `the CLI took ${Math.round(elapsedMs)} ms`);
});

// A port outside 1-65535 is a usage error. getaddrinfo would take 99999
// and connect to port 34463, its value modulo 65536.
test('CLI rejects an invalid port', async () => {
  const result = await system.cli.run(['--registration',
    'tcp://127.0.0.1:99999', 'key', 'list', '--workspace', workspaceId]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /port from 1 to 65535/);
});

// The jobs address completes nng's handshake with another protocol, so
// the CLI reports it at once instead of waiting out --timeout-ms.
test('CLI at the jobs address fails at once', async () => {
  const timeoutMs = 20000;
  const jobsUrl = flagValue(system.processes.get(REGISTRATION).args,
    '--jobs-listen');
  const started = performance.now();
  const result = await system.cli.run(['--registration', jobsUrl,
    '--timeout-ms', String(timeoutMs), 'key', 'list',
    '--workspace', workspaceId]);
  const elapsedMs = performance.now() - started;

  assert.equal(result.code, 1, result.stderr);
  assert.ok(result.stderr.includes('Check that --registration is the ' +
    '--listen address of mcpreg-registration, not its --jobs-listen ' +
    `address or another program's: the peer at '${jobsUrl}' speaks ` +
    'another protocol'), result.stderr);
  assert.doesNotMatch(result.stderr, /Retry-After/,
    'a CLI user has no Retry-After to follow');
  assert.ok(elapsedMs < timeoutMs / 4,
    `the CLI took ${Math.round(elapsedMs)} ms`);
});

// A stopped service accepts the connection into the kernel's queue but
// never sends nng's header. The CLI reports it a second after
// --timeout-ms, which it waits for a late header. Over tcp:// the close
// does not harm nng's listener.
test('CLI names a stopped service', async () => {
  const timeoutMs = 1500;
  await signalProcess(system, REGISTRATION, 'SIGSTOP');
  let result;
  try {
    result = await system.cli.run(['--timeout-ms', String(timeoutMs), 'key',
      'list', '--workspace', workspaceId]);
  } finally {
    await signalProcess(system, REGISTRATION, 'SIGCONT');
  }
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /\(timed_out\)$/m);
  assert.ok(result.stderr.includes('did not answer nng\'s handshake ' +
    `within ${timeoutMs} ms`), result.stderr);

  const listed = await system.cli(['key', 'list', '--workspace',
    workspaceId]);
  assert.ok(Array.isArray(listed));
});

// A timeout over a day is a usage error: the deadline arithmetic and
// nng's 32-bit durations would overflow.
test('CLI rejects a timeout over a day', async () => {
  const result = await system.cli.run(['--timeout-ms', '86400001', 'key',
    'list', '--workspace', workspaceId]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--timeout-ms must be from 1 to 86400000/);
});

// An error about the address names what set it: the environment
// variable, unless --registration overrides it.
test('CLI names MCPREG_REGISTRATION_DIAL when it set the address', async () => {
  const env = { MCPREG_REGISTRATION_DIAL: 'tcp://127.0.0.1:99999' };
  const args = ['key', 'list', '--workspace', workspaceId];

  const fromEnv = await system.cli.run(args, { registration: false, env });
  assert.equal(fromEnv.code, 2, fromEnv.stderr);
  assert.match(fromEnv.stderr, /^mcpreg: Check MCPREG_REGISTRATION_DIAL: /);

  const fromFlag = await system.cli.run(['--registration',
    'tcp://127.0.0.1:0', ...args], { registration: false, env });
  assert.equal(fromFlag.code, 2, fromFlag.stderr);
  assert.match(fromFlag.stderr, /^mcpreg: Check --registration: /);
});
