// Client ID metadata documents against the real oidc-provider peer, which
// advertises client_id_metadata_document_supported: mcpreg registers
// nothing, its client_id is the URL of the document that the gateway
// serves, and the authorization server fetches that document and accepts
// the client in a full code flow. The public base URL is an https origin
// that the peer maps to the gateway's loopback address (--cimd-origin).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import {
  authorize, createPkcePair, discoverAuthorizationServer,
} from '../lib/oauth-client.mjs';

const PUBLIC_BASE_URL = 'https://mcpreg.test';
const DOCUMENT_URL =
  `${PUBLIC_BASE_URL}/v1/deepagents/oauth/client-metadata.json`;

let key;
let metadata;

const system = useSystem({
  label: 'cimd',
  publicBaseUrl: PUBLIC_BASE_URL,
  clientMetadataDocument: true,
  setup: async () => {
    key = await system.createKey({ user: `user-${uniqueSuffix()}` });
    metadata = await discoverAuthorizationServer(system.authUrl);
  },
});

async function documentFetches() {
  const response = await fetch(new URL('/__test/cimd-fetches',
    system.authUrl), { signal: AbortSignal.timeout(5000) });
  return (await response.json()).count;
}

// Registers a provider for a new server and returns `provider show`.
async function newProvider() {
  const server = await createServer(system, key.key,
    oauthServerBody(mcpEndpoint(system)));
  const response = await system.api('POST',
    `/mcp-servers/${server.id}/oauth-provider`, { key: key.key, body: {} });
  assert.equal(response.status, 200, describeResponse(response));
  return system.cli(['provider', 'show', '--workspace', key.workspace_id,
    '--id', response.json.oauth_provider_id]);
}

// Exchanges a code as a public client: client_id in the form, no secret.
async function exchangePublic(provider, code, verifier) {
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, client_id: provider.client_id,
      redirect_uri: provider.redirect_uri, code_verifier: verifier,
    }).toString(),
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, json: await response.json() };
}

test('the peer advertises metadata documents', () => {
  assert.equal(metadata.client_id_metadata_document_supported, true);
});

test('the document URL is the client_id', async () => {
  const { count: before } = await system.registrations();
  const provider = await newProvider();

  assert.equal(provider.client_id, DOCUMENT_URL);
  assert.equal(provider.client_source, 'client_metadata_document');
  assert.equal(provider.token_endpoint_auth_method, 'none');
  assert.equal(provider.has_client_secret, false);
  assert.equal(provider.redirect_uri,
    `${PUBLIC_BASE_URL}/v1/deepagents/oauth/callback`);
  assert.equal((await system.registrations()).count, before,
    'no dynamic client registration');
});

test('the server fetches the document and accepts the client', async () => {
  const provider = await newProvider();
  const fetchesBefore = await documentFetches();
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
  assert.ok(await documentFetches() > fetchesBefore,
    'the authorization server fetched the document');
  assert.equal(typeof redirect.code, 'string', JSON.stringify(redirect));

  const tokens = await exchangePublic(provider, redirect.code, pkce.verifier);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
  assert.equal(typeof tokens.json.access_token, 'string');
});

test('a redirect URI outside the document is refused', async () => {
  const provider = await newProvider();
  const pkce = createPkcePair();

  await assert.rejects(authorize({
    metadata,
    clientId: provider.client_id,
    redirectUri: `${PUBLIC_BASE_URL}/elsewhere`,
    login: 'someone',
    scope: provider.scope,
    resource: provider.resource,
    codeChallenge: pkce.challenge,
  }), /status 400/);
});
