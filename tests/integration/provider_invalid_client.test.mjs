// A client that the authorization server forgets after registration: a
// token call answers invalid_client, the caller reports it with
// ReportInvalidClient (`mcpreg provider invalid-client`), and the next
// oauth-provider call registers one new client under the same id. Runs
// against the real oidc-provider peer, with real token requests.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import { assertStatus } from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import {
  authorize, createPkcePair, discoverAuthorizationServer, exchangeCode,
} from '../lib/oauth-client.mjs';
import { fetchRegisteredClient } from '../lib/peers.mjs';

let key;
let server;
let metadata;

const system = useSystem({
  label: 'invalid-client',
  setup: async () => {
    key = await system.createKey({ user: `user-${uniqueSuffix()}` });
    server = await createServer(system, key.key,
      oauthServerBody(mcpEndpoint(system)));
    metadata = await discoverAuthorizationServer(system.authUrl);
  },
});

async function registerProvider() {
  const response = await system.api('POST',
    `/mcp-servers/${server.id}/oauth-provider`, { key: key.key, body: {} });
  assert.equal(response.status, 200, describeResponse(response));
  return response.json.oauth_provider_id;
}

function showProvider(id) {
  return system.cli(['provider', 'show', '--workspace', key.workspace_id,
    '--id', id]);
}

function reportInvalidClient(id, clientId) {
  return system.cli(['provider', 'invalid-client', '--workspace',
    key.workspace_id, '--id', id, '--client-id', clientId]);
}

// Sends a token request with the client's stored credentials and a code
// the server never issued: a known client gets invalid_grant, a forgotten
// one invalid_client.
async function tokenError(provider) {
  const registered = await fetchRegisteredClient(system.authUrl,
    provider.client_id).catch(() => null);
  const response = await exchangeCode({
    metadata,
    clientId: provider.client_id,
    clientSecret: registered?.client_secret ?? 'forgotten',
    code: 'never-issued',
    redirectUri: provider.redirect_uri,
  });
  return response.json?.error;
}

async function forgetClient(clientId) {
  const url = new URL(`/__test/clients/${encodeURIComponent(clientId)}`,
    system.authUrl);
  const response = await fetch(url, {
    method: 'DELETE', signal: AbortSignal.timeout(5000),
  });
  assert.equal(response.status, 200, `DELETE ${url}`);
}

test('the stored client completes a code flow', async () => {
  const id = await registerProvider();
  const provider = await showProvider(id);
  assert.equal(provider.client_source, 'dynamic_registration');
  assert.equal(provider.has_client_secret, true);
  assert.equal('client_secret' in provider, false,
    'provider show prints no secret');
  const registered = await fetchRegisteredClient(system.authUrl,
    provider.client_id);

  const pkce = createPkcePair();
  const redirect = await authorize({
    metadata,
    clientId: provider.client_id,
    redirectUri: provider.redirect_uri,
    login: 'someone',
    scope: provider.scope,
    resource: provider.resource,
    codeChallenge: pkce.challenge,
  });
  const tokens = await exchangeCode({
    metadata,
    clientId: provider.client_id,
    clientSecret: registered.client_secret,
    code: redirect.code,
    redirectUri: provider.redirect_uri,
    codeVerifier: pkce.verifier,
  });
  assertStatus(tokens, 200);
  assert.equal(typeof tokens.json.access_token, 'string');
});

test('a forgotten client is registered again under the same id',
  async () => {
    const id = await registerProvider();
    const before = await showProvider(id);
    const { count: registrations } = await system.registrations();
    assert.equal(await tokenError(before), 'invalid_grant',
      'the server knows the stored client');

    await forgetClient(before.client_id);
    assert.equal(await tokenError(before), 'invalid_client');
    assert.equal((await reportInvalidClient(id, before.client_id)).marked,
      true);
    assert.equal((await showProvider(id)).invalid_client_at !== null, true);

    assert.equal(await registerProvider(), id, 'the id stays');
    assert.equal(await registerProvider(), id);
    const after = await showProvider(id);
    assert.notEqual(after.client_id, before.client_id);
    assert.equal(after.invalid_client_at, null);
    assert.equal((await system.registrations()).count, registrations + 1,
      'one new registration, however many calls follow');
    assert.equal(await tokenError(after), 'invalid_grant',
      'the server knows the new client');

    // A late report about the old client changes nothing.
    assert.equal((await reportInvalidClient(id, before.client_id)).marked,
      false);
    assert.equal(await registerProvider(), id);
    assert.equal((await system.registrations()).count, registrations + 1);
  });

test('reports for unknown providers fail with a typed error', async () => {
  const result = await system.cli.run(['provider', 'invalid-client',
    '--workspace', key.workspace_id, '--id',
    '99999999-9999-4999-8999-999999999999', '--client-id', 'x']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /\(oauth_provider_not_found\)/);

  const other = await system.createKey({ user: 'someone-else' });
  const id = await registerProvider();
  const foreign = await system.cli.run(['provider', 'show', '--workspace',
    other.workspace_id, '--id', id]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stderr, /\(oauth_provider_not_found\)/,
    'another workspace gets the answer of an unknown id');
});
