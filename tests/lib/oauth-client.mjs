// Minimal OAuth client for tests against peers/auth-server.mjs: RFC 8414
// discovery, RFC 7591 registration, and the authorization code flow with
// PKCE, driving the peer's login and consent forms like a browser would.
import { createHash, randomBytes } from 'node:crypto';

const TIMEOUT_MS = 5000;
const MAX_REDIRECTS = 20;

async function fetchJson(url, init = {}) {
  const response = await fetch(url, {
    ...init, signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

// Returns the authorization server's RFC 8414 metadata.
export async function discoverAuthorizationServer(issuer) {
  const url = new URL('/.well-known/oauth-authorization-server', issuer);
  const response = await fetchJson(url);
  if (response.status !== 200) {
    throw new Error(
      `GET ${url} returned ${response.status}: ${response.text}`);
  }
  return response.json;
}

// Sends an RFC 7591 registration request and returns the raw response
// { status, headers, text, json }.
export async function registerClient(registrationEndpoint, clientMetadata) {
  return fetchJson(registrationEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(clientMetadata),
  });
}

// Returns a PKCE code verifier and its S256 code challenge.
export function createPkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

// Cookies of one user agent. Paths and expiry are ignored, which is enough
// for one short flow against one origin.
class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  store(headers) {
    for (const line of headers.getSetCookie()) {
      const [pair] = line.split(';');
      const separator = pair.indexOf('=');
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      if (value === '') {
        this.cookies.delete(name);
      } else {
        this.cookies.set(name, value);
      }
    }
  }

  header() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`)
      .join('; ');
  }
}

// Sends the authorization request at `authorizationUrl` as the user
// `login` and follows redirects, signing in and consenting on the peer's
// forms, until the authorization server redirects to `redirectUri`.
// Returns that redirect's query parameters after checking their state.
export async function followAuthorization(authorizationUrl, {
  redirectUri, login,
}) {
  const expectedState = new URL(authorizationUrl).searchParams.get('state');
  const jar = new CookieJar();
  let url = new URL(authorizationUrl);
  let method = 'GET';
  let body;
  for (let step = 0; step < MAX_REDIRECTS; step += 1) {
    const headers = { cookie: jar.header() };
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, {
      method, headers, body, redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    jar.store(response.headers);
    const text = await response.text();

    if (response.status >= 300 && response.status < 400) {
      const location = new URL(response.headers.get('location'), url);
      if (location.href.startsWith(redirectUri)) {
        const result = Object.fromEntries(location.searchParams);
        if (result.state !== (expectedState ?? undefined)) {
          throw new Error(`state mismatch in redirect ${location}`);
        }
        return result;
      }
      url = location;
      method = 'GET';
      body = undefined;
      continue;
    }

    if (response.status === 200 && url.pathname.startsWith('/interaction/')) {
      const prompt = /name="prompt" value="([a-z]+)"/.exec(text)?.[1];
      const form = new URLSearchParams({ prompt });
      if (prompt === 'login') form.set('login', login);
      method = 'POST';
      body = form.toString();
      continue;
    }

    throw new Error(`authorization flow stopped at ${method} ${url} with ` +
      `status ${response.status}: ${text.slice(0, 500)}`);
  }
  throw new Error(`authorization flow exceeded ${MAX_REDIRECTS} redirects`);
}

// Builds an authorization request for the code flow and runs it with
// followAuthorization. Returns the redirect's query parameters.
export async function authorize({
  metadata, clientId, redirectUri, login, scope, resource, codeChallenge,
}) {
  const authorizationUrl = new URL(metadata.authorization_endpoint);
  const params = {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    state: randomBytes(16).toString('base64url'),
  };
  if (scope) params.scope = scope;
  if (resource) params.resource = resource;
  if (codeChallenge) {
    params.code_challenge = codeChallenge;
    params.code_challenge_method = 'S256';
  }
  for (const [name, value] of Object.entries(params)) {
    authorizationUrl.searchParams.set(name, value);
  }
  return followAuthorization(authorizationUrl, { redirectUri, login });
}

// Exchanges an authorization code at the token endpoint with
// client_secret_basic authentication. Returns { status, json, text }.
export async function exchangeCode({
  metadata, clientId, clientSecret, code, redirectUri, codeVerifier,
}) {
  const form = new URLSearchParams({
    grant_type: 'authorization_code', code, redirect_uri: redirectUri,
  });
  if (codeVerifier) form.set('code_verifier', codeVerifier);
  const credentials = Buffer.from(
    `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`,
  ).toString('base64');
  return fetchJson(metadata.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${credentials}`,
    },
    body: form.toString(),
  });
}
