// Tests of the two peers on their own, without the mcpreg binaries. They
// cover the MCP server's 401 challenge and RFC 9728 metadata, the
// authorization server's RFC 8414 metadata and RFC 7591 registration count,
// and a full authorization code flow whose token opens the MCP server.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';

import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import {
  authorize, createPkcePair, discoverAuthorizationServer, exchangeCode,
  followAuthorization, registerClient,
} from '../lib/oauth-client.mjs';
import {
  fetchRegisteredClient, fetchRegistrations, startPeers,
} from '../lib/peers.mjs';

// Nothing listens on port 1, and the flow never follows this redirect: it
// stops when the authorization server redirects there.
const REDIRECT_URI = 'http://127.0.0.1:1/callback';
const SCOPE = 'mcp:tools';

let logDir;
let peers;
let anyTestFailed = false;

before(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'mcpreg-peers-'));
  peers = await startPeers({ logDir });
});

afterEach((t) => {
  if (!t.passed) anyTestFailed = true;
});

after(async () => {
  if (peers) {
    await Promise.all([peers.mcpServer.stop(), peers.authServer.stop()]);
  }
  if (anyTestFailed) {
    process.stderr.write(`peer logs kept in ${logDir}\n`);
  } else if (logDir) {
    await rm(logDir, { recursive: true, force: true });
  }
});

function mcpEndpoint() {
  return `${peers.mcpUrl}/mcp`;
}

// Parses the auth-params of a Bearer challenge into an object.
function parseBearerChallenge(header) {
  assert.ok(header, 'WWW-Authenticate header missing');
  assert.match(header, /^Bearer /, `not a Bearer challenge: ${header}`);
  const params = {};
  for (const match of header.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) {
    params[match[1]] = match[2];
  }
  return params;
}

const initializeRequest = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'peers-test', version: '1.0.0' },
  },
};

async function postInitialize(headers = {}) {
  return fetch(mcpEndpoint(), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(initializeRequest),
    signal: AbortSignal.timeout(5000),
  });
}

// Registers a client, runs the code flow for `resource` and returns the
// token endpoint's response.
async function obtainToken({ resource, login = 'alice' }) {
  const metadata = await discoverAuthorizationServer(peers.authUrl);
  const registration = await registerClient(metadata.registration_endpoint, {
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  assert.equal(registration.status, 201, registration.text);
  const { client_id: clientId, client_secret: clientSecret } =
    registration.json;

  const pkce = createPkcePair();
  const redirect = await authorize({
    metadata, clientId, redirectUri: REDIRECT_URI, login, scope: SCOPE,
    resource, codeChallenge: pkce.challenge,
  });
  assert.ok(redirect.code, `no code in redirect: ${JSON.stringify(redirect)}`);
  return exchangeCode({
    metadata, clientId, clientSecret, code: redirect.code,
    redirectUri: REDIRECT_URI, codeVerifier: pkce.verifier,
  });
}

test('MCP initialize without token gets 401', async () => {
  const response = await postInitialize();
  assert.equal(response.status, 401);
  const challenge = parseBearerChallenge(
    response.headers.get('www-authenticate'));
  assert.equal(challenge.resource_metadata,
    `${peers.mcpUrl}/.well-known/oauth-protected-resource/mcp`);
});

test('MCP GET without token gets 401', async () => {
  const response = await fetch(mcpEndpoint(), {
    headers: { accept: 'text/event-stream' },
    signal: AbortSignal.timeout(5000),
  });
  assert.equal(response.status, 401);
  const challenge = parseBearerChallenge(
    response.headers.get('www-authenticate'));
  assert.equal(challenge.resource_metadata,
    `${peers.mcpUrl}/.well-known/oauth-protected-resource/mcp`);
});

test('MCP rejects a malformed bearer token', async () => {
  const response = await postInitialize({ authorization: 'Bearer abc.def' });
  assert.equal(response.status, 401);
  const challenge = parseBearerChallenge(
    response.headers.get('www-authenticate'));
  assert.equal(challenge.error, 'invalid_token');
});

test('protected resource metadata names auth server', async () => {
  const url = `${peers.mcpUrl}/.well-known/oauth-protected-resource/mcp`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  const metadata = await response.json();
  assert.equal(metadata.resource, mcpEndpoint());
  assert.deepEqual(metadata.authorization_servers, [peers.authUrl]);
  assert.ok(Array.isArray(metadata.scopes_supported),
    'scopes_supported must be an array');
  assert.ok(metadata.scopes_supported.includes(SCOPE),
    `scopes_supported lacks ${SCOPE}`);
});

test('auth server RFC 8414 metadata', async () => {
  const metadata = await discoverAuthorizationServer(peers.authUrl);
  assert.equal(metadata.issuer, peers.authUrl);
  for (const name of ['authorization_endpoint', 'token_endpoint',
    'registration_endpoint', 'jwks_uri']) {
    assert.equal(new URL(metadata[name]).origin, peers.authUrl,
      `${name} must be on the issuer's origin`);
  }
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  assert.ok(metadata.response_types_supported.includes('code'));
});

test('auth server OpenID discovery metadata', async () => {
  const url = `${peers.authUrl}/.well-known/openid-configuration`;
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  const metadata = await response.json();
  assert.equal(metadata.issuer, peers.authUrl);
  assert.equal(new URL(metadata.registration_endpoint).origin, peers.authUrl);
});

test('registration increments the count', async () => {
  const before = await fetchRegistrations(peers.authUrl);
  assert.equal(before.count, 0, 'a fresh auth server has no registrations');
  assert.deepEqual(before.client_ids, []);

  const metadata = await discoverAuthorizationServer(peers.authUrl);
  const response = await registerClient(metadata.registration_endpoint, {
    client_name: 'peers-test',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  assert.equal(response.status, 201, response.text);
  assert.equal(typeof response.json.client_id, 'string');
  assert.equal(typeof response.json.client_secret, 'string');
  assert.deepEqual(response.json.redirect_uris, [REDIRECT_URI]);

  const afterRegistration = await fetchRegistrations(peers.authUrl);
  assert.equal(afterRegistration.count, 1);
  assert.deepEqual(afterRegistration.client_ids, [response.json.client_id]);

  const stored =
    await fetchRegisteredClient(peers.authUrl, response.json.client_id);
  assert.equal(stored.client_secret, response.json.client_secret);
});

test('invalid registration is not counted', async () => {
  const before = await fetchRegistrations(peers.authUrl);
  const metadata = await discoverAuthorizationServer(peers.authUrl);
  const response = await registerClient(metadata.registration_endpoint, {
    redirect_uris: ['not a URL'],
  });
  assert.equal(response.status, 400, response.text);
  assert.match(response.json.error,
    /^invalid_(redirect_uri|client_metadata)$/);
  const afterAttempt = await fetchRegistrations(peers.authUrl);
  assert.equal(afterAttempt.count, before.count);
});

test('public client with resource scope registers', async () => {
  const metadata = await discoverAuthorizationServer(peers.authUrl);
  assert.ok(metadata.scopes_supported.includes(SCOPE),
    `scopes_supported lacks ${SCOPE}`);
  const response = await registerClient(metadata.registration_endpoint, {
    redirect_uris: [REDIRECT_URI],
    scope: SCOPE,
    grant_types: ['authorization_code', 'refresh_token'],
    token_endpoint_auth_method: 'none',
  });
  assert.equal(response.status, 201, response.text);
  assert.equal(response.json.client_secret, undefined,
    'a public client gets no secret');
  const { client_ids: clientIds } = await fetchRegistrations(peers.authUrl);
  assert.ok(clientIds.includes(response.json.client_id));
});

test('authorization without PKCE is rejected', async () => {
  const metadata = await discoverAuthorizationServer(peers.authUrl);
  const registration = await registerClient(metadata.registration_endpoint, {
    redirect_uris: [REDIRECT_URI],
  });
  assert.equal(registration.status, 201, registration.text);
  const redirect = await authorize({
    metadata, clientId: registration.json.client_id,
    redirectUri: REDIRECT_URI, login: 'alice', scope: SCOPE,
    resource: mcpEndpoint(),
  });
  assert.equal(redirect.error, 'invalid_request');
  assert.match(redirect.error_description, /PKCE/);
});

test('unknown resource is rejected', async () => {
  const metadata = await discoverAuthorizationServer(peers.authUrl);
  const registration = await registerClient(metadata.registration_endpoint, {
    redirect_uris: [REDIRECT_URI],
  });
  assert.equal(registration.status, 201, registration.text);
  const redirect = await authorize({
    metadata, clientId: registration.json.client_id,
    redirectUri: REDIRECT_URI, login: 'alice', scope: SCOPE,
    resource: 'https://example.invalid/mcp',
    codeChallenge: createPkcePair().challenge,
  });
  assert.equal(redirect.error, 'invalid_target');
});

test('wrong PKCE verifier is rejected', async () => {
  const metadata = await discoverAuthorizationServer(peers.authUrl);
  const registration = await registerClient(metadata.registration_endpoint, {
    redirect_uris: [REDIRECT_URI],
  });
  assert.equal(registration.status, 201, registration.text);
  const redirect = await authorize({
    metadata, clientId: registration.json.client_id,
    redirectUri: REDIRECT_URI, login: 'alice', scope: SCOPE,
    resource: mcpEndpoint(), codeChallenge: createPkcePair().challenge,
  });
  const token = await exchangeCode({
    metadata,
    clientId: registration.json.client_id,
    clientSecret: registration.json.client_secret,
    code: redirect.code,
    redirectUri: REDIRECT_URI,
    codeVerifier: createPkcePair().verifier,
  });
  assert.equal(token.status, 400, token.text);
  assert.equal(token.json.error, 'invalid_grant');
});

test('code flow token calls the MCP tool', async () => {
  const token = await obtainToken({ resource: mcpEndpoint() });
  assert.equal(token.status, 200, token.text);
  assert.equal(token.json.token_type, 'Bearer');
  assert.equal(token.json.scope, SCOPE);

  const client = new Client({ name: 'peers-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpEndpoint()), {
    requestInit: {
      headers: { authorization: `Bearer ${token.json.access_token}` },
    },
  });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name), ['echo']);
    const result = await client.callTool({
      name: 'echo', arguments: { text: 'hello' },
    });
    assert.deepEqual(result.content, [{ type: 'text', text: 'hello' }]);
  } finally {
    await client.close();
  }
});

// The SDK's own OAuth client discovers everything from the 401, registers
// a client, and gets a token after the authorization redirect.
test('SDK OAuth client completes flow', async () => {
  const store = {};
  let authorizationUrl;
  const authProvider = {
    redirectUrl: REDIRECT_URI,
    clientMetadata: {
      client_name: 'peers-test-sdk',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    state: () => 'sdk-client-state',
    clientInformation: () => store.client,
    saveClientInformation: (client) => {
      store.client = client;
    },
    tokens: () => store.tokens,
    saveTokens: (tokens) => {
      store.tokens = tokens;
    },
    redirectToAuthorization: (url) => {
      authorizationUrl = url;
    },
    saveCodeVerifier: (verifier) => {
      store.codeVerifier = verifier;
    },
    codeVerifier: () => store.codeVerifier,
  };
  const countBefore = (await fetchRegistrations(peers.authUrl)).count;

  const firstTransport = new StreamableHTTPClientTransport(
    new URL(mcpEndpoint()), { authProvider });
  const firstClient = new Client({ name: 'peers-test', version: '1.0.0' });
  await assert.rejects(firstClient.connect(firstTransport), UnauthorizedError);
  assert.ok(authorizationUrl, 'the SDK did not start an authorization');
  assert.equal(authorizationUrl.origin, peers.authUrl);
  assert.equal(authorizationUrl.searchParams.get('resource'), mcpEndpoint());
  assert.equal(authorizationUrl.searchParams.get('code_challenge_method'),
    'S256');
  assert.equal((await fetchRegistrations(peers.authUrl)).count,
    countBefore + 1);

  const redirect = await followAuthorization(authorizationUrl, {
    redirectUri: REDIRECT_URI, login: 'sdk-user',
  });
  assert.ok(redirect.code, `no code in redirect: ${JSON.stringify(redirect)}`);
  await firstTransport.finishAuth(redirect.code);
  assert.ok(store.tokens?.access_token, 'the SDK saved no access token');

  const client = new Client({ name: 'peers-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(
    new URL(mcpEndpoint()), { authProvider }));
  try {
    const result = await client.callTool({
      name: 'echo', arguments: { text: 'from the SDK' },
    });
    assert.deepEqual(result.content, [{ type: 'text', text: 'from the SDK' }]);
  } finally {
    await client.close();
  }
});

test('token for another resource gets 401', async () => {
  const token = await obtainToken({ resource: 'http://127.0.0.1:1/other' });
  assert.equal(token.status, 200, token.text);
  const response = await postInitialize({
    authorization: `Bearer ${token.json.access_token}`,
  });
  assert.equal(response.status, 401);
  const challenge = parseBearerChallenge(
    response.headers.get('www-authenticate'));
  assert.equal(challenge.error, 'invalid_token');
});

test('peers exit 0 on SIGTERM', async () => {
  const [mcpExit, authExit] = await Promise.all([
    peers.mcpServer.stop(), peers.authServer.stop(),
  ]);
  assert.deepEqual(mcpExit, { code: 0, signal: null, killed: false });
  assert.deepEqual(authExit, { code: 0, signal: null, killed: false });
});
