// CRUD routes of /v1/deepagents/mcp-servers: create, list, get, patch and
// delete, with workspace isolation, deletion of provider mappings, and the
// fields that a PATCH clears or keeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import {
  assertError, assertMcpServer, assertStatus, assertUuid,
} from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, randomUUID, uniqueSuffix,
} from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';

const keys = {};
let workspaceId;
let outsiderWorkspaceId;
let server;

const system = useSystem({
  label: 'mcp-servers',
  setup: async () => {
    const suffix = uniqueSuffix();
    const owner = await system.createKey({ user: `owner-${suffix}` });
    workspaceId = owner.workspace_id;
    keys.owner = owner.key;
    keys.teammate = (await system.createKey({
      workspace: workspaceId, user: `teammate-${suffix}`,
    })).key;
    const outsider = await system.createKey({ user: `outsider-${suffix}` });
    outsiderWorkspaceId = outsider.workspace_id;
    keys.outsider = outsider.key;
  },
});

function headerKeys(record) {
  return record.headers.map((header) => header.key);
}

function requireServer() {
  assert.ok(server, 'needs the server from "create returns 201"');
}

test('create returns 201', async () => {
  const body = {
    name: `headers-${uniqueSuffix()}`,
    url: mcpEndpoint(system),
    headers: [
      { key: 'X-Team', value: 'alpha' },
      { key: 'Authorization', value: `Bearer token-${uniqueSuffix()}` },
    ],
    auth_type: 'headers',
  };
  const response = await system.api('POST', '/mcp-servers', {
    key: keys.owner, body,
  });
  assertStatus(response, 201);
  assertMcpServer(response.json, {
    name: body.name,
    url: body.url,
    tenant_id: workspaceId,
    auth_type: 'headers',
    oauth_provider_id: null,
  });
  // NOTE: header values may hold secrets and the contract does not say
  // whether responses show them, so only the header names are compared.
  assert.deepEqual(headerKeys(response.json), ['X-Team', 'Authorization']);
  server = response.json;
});

test('same name in another workspace is allowed', async () => {
  requireServer();
  const response = await system.api('POST', '/mcp-servers', {
    key: keys.outsider,
    body: { name: server.name, url: mcpEndpoint(system) },
  });
  assertStatus(response, 201);
  assertMcpServer(response.json, {
    name: server.name, tenant_id: outsiderWorkspaceId,
  });
  assert.notEqual(response.json.id, server.id);
});

test('list returns only own workspace', async () => {
  requireServer();
  const teammateServer = await createServer(system, keys.teammate, {
    name: `teammate-${uniqueSuffix()}`, url: mcpEndpoint(system),
  });

  const response = await system.api('GET', '/mcp-servers', {
    key: keys.owner,
  });
  assertStatus(response, 200);
  assert.ok(Array.isArray(response.json),
    `list must be a bare JSON array: ${describeResponse(response)}`);
  for (const record of response.json) {
    assertMcpServer(record, { tenant_id: workspaceId });
  }
  const ids = response.json.map((record) => record.id).sort();
  assert.deepEqual(ids, [server.id, teammateServer.id].sort());

  const outsiderList = await system.api('GET', '/mcp-servers', {
    key: keys.outsider,
  });
  assertStatus(outsiderList, 200);
  assert.ok(Array.isArray(outsiderList.json));
  for (const record of outsiderList.json) {
    assert.equal(record.tenant_id, outsiderWorkspaceId);
  }
  assert.ok(!outsiderList.json.some((record) => record.id === server.id),
    'another workspace must not see the server');
});

test('get returns the created record', async () => {
  requireServer();
  const response = await system.api('GET', `/mcp-servers/${server.id}`, {
    key: keys.owner,
  });
  assertStatus(response, 200);
  assert.deepEqual(response.json, server);
});

test('get from another workspace is 404', async () => {
  requireServer();
  const response = await system.api('GET', `/mcp-servers/${server.id}`, {
    key: keys.outsider,
  });
  assertError(response, 404, 'mcp_server_not_found');
});

test('patch url returns 200', async () => {
  requireServer();
  const newUrl = `${system.mcpUrl}/moved-${uniqueSuffix()}/mcp`;
  const response = await system.api('PATCH', `/mcp-servers/${server.id}`, {
    key: keys.owner, body: { url: newUrl },
  });
  assertStatus(response, 200);
  assertMcpServer(response.json, {
    id: server.id,
    name: server.name,
    tenant_id: workspaceId,
    url: newUrl,
    created_at: server.created_at,
  });
  assert.ok(Date.parse(response.json.updated_at) >=
    Date.parse(server.updated_at), 'updated_at must not go back');
  assert.deepEqual(headerKeys(response.json), headerKeys(server),
    'a patch without headers keeps them');

  const stored = await system.api('GET', `/mcp-servers/${server.id}`, {
    key: keys.owner,
  });
  assertStatus(stored, 200);
  assert.equal(stored.json.url, newUrl);
  server = stored.json;
});

test('patch headers replaces the list', async () => {
  requireServer();
  const response = await system.api('PATCH', `/mcp-servers/${server.id}`, {
    key: keys.owner,
    body: { headers: [{ key: 'X-Replaced', value: 'one' }] },
  });
  assertStatus(response, 200);
  assert.deepEqual(headerKeys(response.json), ['X-Replaced']);

  const stored = await system.api('GET', `/mcp-servers/${server.id}`, {
    key: keys.owner,
  });
  assertStatus(stored, 200);
  assert.deepEqual(headerKeys(stored.json), ['X-Replaced']);

  const emptied = await system.api('PATCH', `/mcp-servers/${server.id}`, {
    key: keys.owner, body: { headers: [] },
  });
  assertStatus(emptied, 200);
  assert.deepEqual(emptied.json.headers, []);
});

test('patch auth fields switches to oauth', async () => {
  requireServer();
  const response = await system.api('PATCH', `/mcp-servers/${server.id}`, {
    key: keys.owner,
    body: {
      url: mcpEndpoint(system),
      auth_type: 'oauth',
      oauth_mode: 'per_user_dynamic_client',
    },
  });
  assertStatus(response, 200);
  assertMcpServer(response.json, {
    id: server.id,
    auth_type: 'oauth',
    oauth_mode: 'per_user_dynamic_client',
  });

  // The server now takes per-user provider registration.
  const countBefore = (await system.registrations()).count;
  const provider = await system.api('POST',
    `/mcp-servers/${server.id}/oauth-provider`, { key: keys.owner });
  assertStatus(provider, 200);
  assertUuid(provider.json.oauth_provider_id, 'oauth_provider_id');
  assert.equal((await system.registrations()).count, countBefore + 1);
});

test('patch from another workspace is 404', async () => {
  requireServer();
  const response = await system.api('PATCH', `/mcp-servers/${server.id}`, {
    key: keys.outsider, body: { url: mcpEndpoint(system) },
  });
  assertError(response, 404, 'mcp_server_not_found');
});

test('delete from another workspace keeps server', async () => {
  requireServer();
  const response = await system.api('DELETE', `/mcp-servers/${server.id}`, {
    key: keys.outsider,
  });
  // An id unknown to the caller's workspace is deleted idempotently.
  assertStatus(response, 204);
  const stored = await system.api('GET', `/mcp-servers/${server.id}`, {
    key: keys.owner,
  });
  assertStatus(stored, 200);
});

test('delete returns 204 and is idempotent', async () => {
  const victim = await createServer(system, keys.owner, {
    name: `delete-${uniqueSuffix()}`, url: mcpEndpoint(system),
  });
  const path = `/mcp-servers/${victim.id}`;

  const response = await system.api('DELETE', path, { key: keys.owner });
  assertStatus(response, 204);
  assert.equal(response.text, '', '204 must have no body');

  assertError(await system.api('GET', path, { key: keys.owner }),
    404, 'mcp_server_not_found');

  const again = await system.api('DELETE', path, { key: keys.owner });
  assertStatus(again, 204);

  const list = await system.api('GET', '/mcp-servers', { key: keys.owner });
  assertStatus(list, 200);
  assert.ok(!list.json.some((record) => record.id === victim.id),
    'a deleted server must leave the list');
});

test('delete removes provider mappings', async () => {
  const oauthServer = await createServer(system, keys.owner,
    oauthServerBody(mcpEndpoint(system)));
  const providerPath = `/mcp-servers/${oauthServer.id}/oauth-provider`;
  const first = await system.api('POST', providerPath, { key: keys.owner });
  assertStatus(first, 200);
  assertUuid(first.json.oauth_provider_id, 'oauth_provider_id');

  const deleted = await system.api('DELETE', `/mcp-servers/${oauthServer.id}`,
    { key: keys.owner });
  assertStatus(deleted, 204);

  const countBefore = (await system.registrations()).count;
  const after = await system.api('POST', providerPath, { key: keys.owner });
  assertError(after, 404, 'mcp_server_not_found');
  assert.equal((await system.registrations()).count, countBefore);
});

test('patch to headers clears oauth fields', async () => {
  const perUser = await createServer(system, keys.owner,
    oauthServerBody(mcpEndpoint(system)));
  const providerPath = `/mcp-servers/${perUser.id}/oauth-provider`;
  assertStatus(await system.api('POST', providerPath, { key: keys.owner }),
    200);

  const response = await system.api('PATCH', `/mcp-servers/${perUser.id}`, {
    key: keys.owner, body: { auth_type: 'headers' },
  });
  assertStatus(response, 200);
  assertMcpServer(response.json, {
    id: perUser.id, auth_type: 'headers', oauth_mode: undefined,
    oauth_provider_id: null,
  });
  assertError(await system.api('POST', providerPath, { key: keys.owner }),
    400, 'mcp_server_not_per_user_oauth');

  const sharedProviderId = randomUUID();
  const legacy = await createServer(system, keys.owner, {
    ...oauthServerBody(mcpEndpoint(system)),
    oauth_mode: 'legacy_shared_provider',
    oauth_provider_id: sharedProviderId,
  });
  assert.equal(legacy.oauth_provider_id, sharedProviderId);
  const switched = await system.api('PATCH', `/mcp-servers/${legacy.id}`, {
    key: keys.owner, body: { auth_type: 'headers' },
  });
  assertStatus(switched, 200);
  assertMcpServer(switched.json, {
    auth_type: 'headers', oauth_mode: undefined, oauth_provider_id: null,
  });
});

test('patch to headers keeps explicit oauth_mode', async () => {
  const oauthServer = await createServer(system, keys.owner,
    oauthServerBody(mcpEndpoint(system)));
  const path = `/mcp-servers/${oauthServer.id}`;
  const response = await system.api('PATCH', path, {
    key: keys.owner,
    body: { auth_type: 'headers', oauth_mode: 'per_user_dynamic_client' },
  });
  assertError(response, 422, 'invalid_auth_config');

  const stored = await system.api('GET', path, { key: keys.owner });
  assertStatus(stored, 200);
  assertMcpServer(stored.json, {
    auth_type: 'oauth', oauth_mode: 'per_user_dynamic_client',
  });
});

test('patch url in another case keeps provider', async () => {
  const url = mcpEndpoint(system);
  const oauthServer = await createServer(system, keys.owner,
    oauthServerBody(url));
  const providerPath = `/mcp-servers/${oauthServer.id}/oauth-provider`;
  const first = await system.api('POST', providerPath, { key: keys.owner });
  assertStatus(first, 200);
  const countBefore = (await system.registrations()).count;

  // Scheme and host are case-insensitive (RFC 3986, section 6.2.2.1).
  const recased = url.replace(/^http:/, 'HTTP:');
  assert.notEqual(recased, url);
  const response = await system.api('PATCH', `/mcp-servers/${oauthServer.id}`,
    { key: keys.owner, body: { url: recased } });
  assertStatus(response, 200);
  assert.equal(response.json.url, recased, 'the URL is stored as sent');

  const again = await system.api('POST', providerPath, { key: keys.owner });
  assertStatus(again, 200);
  assert.equal(again.json.oauth_provider_id, first.json.oauth_provider_id);
  assert.equal((await system.registrations()).count, countBefore,
    'no new client is registered');
});
