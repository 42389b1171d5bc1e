// Builders for fake-server scripts: the documents and responses of a
// well-behaved MCP server and authorization server, which each field case
// then changes in one place. Every URL is written with {{origin}}, which
// the fake replaces with its own origin.
import { randomUUID } from 'node:crypto';

import { fetchFakeRequests, scriptFake, startFakeServer } from './fake-server.mjs';

export const MCP_PATH = '/mcp';
export const REGISTER_PATH = '/register';

// A 401 response to the MCP probe with the given WWW-Authenticate values,
// one header line each.
export function unauthorized(...challenges) {
  return {
    status: 401,
    headers: challenges.map((value) => ['WWW-Authenticate', value]),
    body: '',
  };
}

// A 200 JSON response.
export function json(body, status = 200) {
  return { status, body };
}

// Returns a copy of rule with the header lines of `headers` ([name, value]
// pairs) added after its own.
export function withHeaders(rule, headers) {
  return { ...rule, headers: [...(rule.headers ?? []), ...headers] };
}

// A response whose body is the JSON text of `body`, sent with the
// Content-Type value `contentType`, or with no Content-Type when it is
// null.
export function typed(body, contentType, status = 200) {
  const headers = contentType === null ? [] : [['Content-Type', contentType]];
  return { status, headers, body: JSON.stringify(body) };
}

// Protected resource metadata for the MCP endpoint.
export function resourceMetadata({
  resource = `{{origin}}${MCP_PATH}`,
  authorizationServers = ['{{origin}}'],
  scopes,
} = {}) {
  const document = {
    resource,
    authorization_servers: authorizationServers,
  };
  if (scopes !== undefined) document.scopes_supported = scopes;
  return document;
}

// Authorization server metadata for `issuer`. A null registrationEndpoint
// leaves the member out.
export function serverMetadata(issuer, {
  registrationEndpoint = `${issuer}${REGISTER_PATH}`,
  authMethods = ['client_secret_basic', 'client_secret_post', 'none'],
  pkce = ['S256'],
  extra = {},
} = {}) {
  const document = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: pkce,
    token_endpoint_auth_methods_supported: authMethods,
    ...extra,
  };
  if (registrationEndpoint !== null) {
    document.registration_endpoint = registrationEndpoint;
  }
  return document;
}

// A registration response; without clientId every call gets a fresh
// client_id. With a clientId, the response also carries RFC 7592's
// registration_client_uri ({{origin}}/register/CLIENT_ID) and a
// registration_access_token of "rat-CLIENT_ID". A static script cannot
// echo the redirect URI sent, so redirect_uris is left out unless
// redirectUris gives it.
export function registered({
  method = 'client_secret_basic',
  secret = true,
  status = 201,
  clientId,
  redirectUris,
  extra = {},
} = {}) {
  const management = clientId === undefined ? {} : {
    registration_client_uri: `{{origin}}${REGISTER_PATH}/${clientId}`,
    registration_access_token: `rat-${clientId}`,
  };
  const body = {
    client_id: clientId ?? `client-${randomUUID()}`,
    ...management,
    token_endpoint_auth_method: method,
    client_secret_expires_at: 0,
    ...extra,
  };
  if (redirectUris !== undefined) body.redirect_uris = redirectUris;
  if (secret) body.client_secret = `secret-${randomUUID()}`;
  return { status, body };
}

// The script of a well-behaved pair: the probe's challenge names the
// path-inserted resource metadata, the issuer is the fake's origin, and
// registration returns 201. `changes` replaces or adds routes.
export function wellBehaved(changes = {}) {
  return {
    [MCP_PATH]: unauthorized(
      'Bearer resource_metadata="{{origin}}/.well-known/' +
      `oauth-protected-resource${MCP_PATH}"`),
    [`/.well-known/oauth-protected-resource${MCP_PATH}`]:
      json(resourceMetadata()),
    '/.well-known/oauth-authorization-server':
      json(serverMetadata('{{origin}}')),
    [REGISTER_PATH]: registered(),
    ...changes,
  };
}

// Starts a fake, scripts it, and returns { fake, url, mcpUrl, requests() }.
// Call fake.close() when done.
export async function startScriptedFake(routes) {
  const fake = await startFakeServer();
  await scriptFake(fake.url, routes);
  return {
    fake,
    url: fake.url,
    mcpUrl: `${fake.url}${MCP_PATH}`,
    requests: () => fetchFakeRequests(fake.url),
  };
}

// Returns the POSTs that the fake recorded other than the MCP probes.
export function postsBesidesProbe(log) {
  return log.requests
    .filter((item) => item.method === 'POST' && item.path !== MCP_PATH);
}
