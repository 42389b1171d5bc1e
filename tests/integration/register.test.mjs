// POST /v1/deepagents/mcp-servers/{id}/oauth-provider end to end: discovery
// and RFC 7591 registration at the test authorization server, idempotence
// per workspace, user and server, and the user and workspace checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import {
  assertError, assertForbidden, assertMcpServer, assertStatus, assertUuid,
} from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import { fetchRegisteredClient } from '../lib/peers.mjs';

const users = {};
const keys = {};
let workspaceId;
let server;
const providerIds = {};

const system = useSystem({
  label: 'register',
  setup: async () => {
    const suffix = uniqueSuffix();
    users.alice = `alice-${suffix}`;
    users.bob = `bob-${suffix}`;
    users.dave = `dave-${suffix}`;
    users.carol = `carol-${suffix}`;

    const alice = await system.createKey({ user: users.alice, name: 'alice' });
    workspaceId = alice.workspace_id;
    keys.alice = alice.key;
    keys.bob = (await system.createKey({
      workspace: workspaceId, user: users.bob, name: 'bob',
    })).key;
    const service = await system.createKey({
      workspace: workspaceId, name: 'service',
    });
    assert.equal(service.user_id, null, 'a key without --user has no user');
    keys.service = service.key;
    const other = await system.createKey({ user: users.carol, name: 'other' });
    assert.notEqual(other.workspace_id, workspaceId);
    keys.otherWorkspace = other.key;
  },
});

function callProvider(key, options = {}) {
  return system.api('POST', `/mcp-servers/${server.id}/oauth-provider`,
    { key, ...options });
}

function requireServer() {
  assert.ok(server, 'needs the server from "oauth server create returns 201"');
}

test('oauth server create returns 201', async () => {
  const body = oauthServerBody(mcpEndpoint(system));
  const response = await system.api('POST', '/mcp-servers', {
    key: keys.alice, body,
  });
  assertStatus(response, 201);
  assertMcpServer(response.json, {
    name: body.name,
    url: body.url,
    tenant_id: workspaceId,
    auth_type: 'oauth',
    oauth_mode: 'per_user_dynamic_client',
    headers: [],
    oauth_provider_id: null,
  });
  server = response.json;
});

test('first call registers one client', async () => {
  requireServer();
  const before = await system.registrations();

  const response = await callProvider(keys.alice, { body: {} });
  assertStatus(response, 200);
  assert.deepEqual(Object.keys(response.json), ['oauth_provider_id'],
    describeResponse(response));
  assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
  providerIds.alice = response.json.oauth_provider_id;

  const after = await system.registrations();
  assert.equal(after.count, before.count + 1,
    'the auth server must see exactly one new registration');
  const newClientIds = after.client_ids
    .filter((id) => !before.client_ids.includes(id));
  assert.equal(newClientIds.length, 1);

  // The redirect URI leads back to mcpreg, which --public-base-url names.
  const client = await fetchRegisteredClient(system.authUrl, newClientIds[0]);
  assert.ok(client.redirect_uris.length > 0, 'client has no redirect_uris');
  for (const uri of client.redirect_uris) {
    assert.equal(new URL(uri).origin, system.gatewayUrl,
      `redirect URI ${uri} must be on the public base URL`);
  }
});

test('repeat call returns the same id', async () => {
  requireServer();
  assert.ok(providerIds.alice, 'needs the id from the first call');
  const registrationsBefore = await system.registrations();
  const requestsBefore = await system.requestCounts();

  const response = await callProvider(keys.alice, { body: {} });
  assertStatus(response, 200);
  assert.equal(response.json.oauth_provider_id, providerIds.alice);

  const registrationsAfter = await system.registrations();
  assert.equal(registrationsAfter.count, registrationsBefore.count);
  assert.deepEqual(await system.requestCounts(), requestsBefore,
    'a repeat call must contact neither the MCP nor the auth server');
});

test('body may be absent, empty or same user', async (t) => {
  requireServer();
  assert.ok(providerIds.alice, 'needs the id from the first call');
  const countBefore = (await system.registrations()).count;
  const cases = [
    ['no body', {}],
    ['empty object', { body: {} }],
    ['ls_user_id of the key user', { body: { ls_user_id: users.alice } }],
  ];
  for (const [name, options] of cases) {
    await t.test(name, async () => {
      const response = await callProvider(keys.alice, options);
      assertStatus(response, 200);
      assert.equal(response.json.oauth_provider_id, providerIds.alice);
    });
  }
  assert.equal((await system.registrations()).count, countBefore);
});

test('another user gets another id', async () => {
  requireServer();
  const countBefore = (await system.registrations()).count;

  const response = await callProvider(keys.bob);
  assertStatus(response, 200);
  assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
  assert.notEqual(response.json.oauth_provider_id, providerIds.alice);
  providerIds.bob = response.json.oauth_provider_id;
  assert.equal((await system.registrations()).count, countBefore + 1);

  const repeat = await callProvider(keys.bob);
  assertStatus(repeat, 200);
  assert.equal(repeat.json.oauth_provider_id, providerIds.bob);
  assert.equal((await system.registrations()).count, countBefore + 1);
});

test('service key needs ls_user_id', async (t) => {
  requireServer();
  const countBefore = (await system.registrations()).count;
  for (const [name, options] of [['no body', {}], ['empty', { body: {} }]]) {
    await t.test(name, async () => {
      const response = await callProvider(keys.service, options);
      assertError(response, 400, 'missing_required_field');
    });
  }
  assert.equal((await system.registrations()).count, countBefore);
});

test('service key with ls_user_id registers', async () => {
  requireServer();
  const countBefore = (await system.registrations()).count;

  const response = await callProvider(keys.service, {
    body: { ls_user_id: users.dave },
  });
  assertStatus(response, 200);
  assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
  const daveId = response.json.oauth_provider_id;
  assert.notEqual(daveId, providerIds.alice);
  assert.notEqual(daveId, providerIds.bob);
  assert.equal((await system.registrations()).count, countBefore + 1);

  const repeat = await callProvider(keys.service, {
    body: { ls_user_id: users.dave },
  });
  assertStatus(repeat, 200);
  assert.equal(repeat.json.oauth_provider_id, daveId);
  assert.equal((await system.registrations()).count, countBefore + 1);
});

test('look-alike ls_user_id is 400', async (t) => {
  requireServer();
  const countBefore = (await system.registrations()).count;
  const cases = [
    ['no-break space', `${users.dave}\u00a0`, 'U+00A0'],
    ['ideographic space', `${users.dave}\u3000`, 'U+3000'],
    ['zero width space', `${users.dave}\u200b`, 'U+200B'],
    ['byte order mark', `\ufeff${users.dave}`, 'U+FEFF'],
    ['decomposed e acute', `e\u0301-${users.dave}`, 'NFC'],
  ];
  for (const [name, userId, fragment] of cases) {
    await t.test(name, async () => {
      const response = await callProvider(keys.service, {
        body: { ls_user_id: userId },
      });
      assertError(response, 400, 'invalid_field');
      const { detail } = response.json;
      assert.ok(detail.includes("'ls_user_id'"), describeResponse(response));
      assert.ok(detail.includes(fragment), describeResponse(response));
      assert.ok(!detail.includes(users.dave),
        `the detail quotes the id: ${detail}`);
    });
  }
  assert.equal((await system.registrations()).count, countBefore);
});

test('ids in other scripts need NFC', async () => {
  requireServer();
  const userId = `\u0395\u03bb\u03ad\u03bd\u03b7-\u30e6\u30fc\u30b6-${
    uniqueSuffix()}`;
  assert.equal(userId, userId.normalize('NFC'), 'the id must be NFC');
  const decomposed = userId.normalize('NFD');
  assert.notEqual(decomposed, userId, 'the id must have a decomposed form');

  const rejected = await callProvider(keys.service, {
    body: { ls_user_id: decomposed },
  });
  assertError(rejected, 400, 'invalid_field');
  assert.ok(rejected.json.detail.includes('NFC'), describeResponse(rejected));

  const response = await callProvider(keys.service, {
    body: { ls_user_id: userId },
  });
  assertStatus(response, 200);
  assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
  assert.notEqual(response.json.oauth_provider_id, providerIds.alice);
});

test('service key reuses a user mapping', async () => {
  requireServer();
  assert.ok(providerIds.alice, 'needs the id from the first call');
  const countBefore = (await system.registrations()).count;
  const response = await callProvider(keys.service, {
    body: { ls_user_id: users.alice },
  });
  assertStatus(response, 200);
  assert.equal(response.json.oauth_provider_id, providerIds.alice);
  assert.equal((await system.registrations()).count, countBefore);
});

test('personal key naming another user is 403', async () => {
  requireServer();
  const countBefore = (await system.registrations()).count;
  const response = await callProvider(keys.alice, {
    body: { ls_user_id: users.bob },
  });
  assertForbidden(response);
  assert.equal((await system.registrations()).count, countBefore);
});

test('key of another workspace gets 404', async () => {
  requireServer();
  const countBefore = (await system.registrations()).count;
  const response = await callProvider(keys.otherWorkspace, { body: {} });
  assertError(response, 404, 'mcp_server_not_found');
  assert.equal((await system.registrations()).count, countBefore);
});

test('second server gets its own id', async () => {
  requireServer();
  const second = await createServer(system, keys.alice,
    oauthServerBody(mcpEndpoint(system)));
  const countBefore = (await system.registrations()).count;

  const response = await system.api('POST',
    `/mcp-servers/${second.id}/oauth-provider`, { key: keys.alice });
  assertStatus(response, 200);
  assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
  assert.notEqual(response.json.oauth_provider_id, providerIds.alice);
  assert.equal((await system.registrations()).count, countBefore + 1);

  // The first server's mapping is unchanged.
  const first = await callProvider(keys.alice);
  assertStatus(first, 200);
  assert.equal(first.json.oauth_provider_id, providerIds.alice);
});

test('client metadata document is public', async () => {
  const url = `${system.gatewayUrl}/v1/deepagents/oauth/client-metadata.json`;
  const response = await fetch(url);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^application\/json/);
  const doc = await response.json();
  assert.equal(doc.client_id, url, 'client_id is the document URL');
  assert.deepEqual(doc.redirect_uris,
    [`${system.gatewayUrl}/v1/deepagents/oauth/callback`]);
  assert.equal(doc.token_endpoint_auth_method, 'none');
});

test('client metadata route rejects DELETE', async () => {
  const url = `${system.gatewayUrl}/v1/deepagents/oauth/client-metadata.json`;
  const response = await fetch(url, { method: 'DELETE' });
  assert.equal(response.status, 405);
  assert.equal(response.headers.get('allow'), 'GET, HEAD');
  const body = await response.json();
  assert.equal(body.code, 'method_not_allowed');
});
