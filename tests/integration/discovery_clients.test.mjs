// How discovery obtains a client when registration is not the way: a
// client that the operator stored with `mcpreg client add` for the MCP
// server and issuer, and the typed error when there is none. The MCP
// server and its authorization server are a scripted fake (tests/fake/).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { assertError, assertStatus, assertUuid } from '../lib/assertions.mjs';
import { createServer, oauthServerBody } from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
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
