// OAuth 2.0 authorization server for tests, built on oidc-provider 9.
//
// It serves RFC 8414 and OpenID Connect discovery, open RFC 7591 dynamic
// client registration, the authorization code flow with PKCE (S256 only),
// and RFC 8707 resource indicators that issue JWT access tokens for
// loopback resource servers. It listens on 127.0.0.1 only, keeps all state
// in memory and prints one ready line on stdout:
//   {"ready":true,"url":"http://127.0.0.1:PORT"}
//
// Routes outside oidc-provider's own (the /__test/ ones exist for tests):
//   GET  /__test/registrations  {"count": N, "client_ids": [...]}
//   GET  /__test/requests       {"count": N} requests handed to the provider
//   GET  /__test/clients/ID     stored metadata of one registered client,
//                               including its client_secret
//   DELETE /__test/clients/ID   forgets a registered client, as a server
//                               that lost or expired it would
//   GET  /__test/cimd-fetches   {"count": N} client ID metadata documents
//                               fetched
//   GET  /interaction/UID       login or consent form of a pending request
//   POST /interaction/UID       form submission: prompt=login&login=ACCOUNT,
//                               then prompt=consent
//
// Plain http on loopback: oidc-provider 9.13.3 accepts an http issuer as
// is. It rejects http redirect_uris only for web clients of the implicit
// flow, which this server does not offer (responseTypes is ['code']), and
// for native clients whose host is not a loopback address. On plain http
// its cookies lack the Secure attribute, because the provider derives it
// from ctx.secure. So no setting is needed for http.
//
// oidc-provider's built-in login, consent and error pages load fonts from
// a public host, which a browser showing them would contact. So this
// server renders its own pages, and RP-initiated logout, whose pages do the
// same, is disabled. The signing key is new on every start.
import './common.mjs';

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

import {
  announceReady, exitOnSignal, listenOnLoopback, log, parsePort, readOptions,
} from './common.mjs';

const PEER = 'auth-server';
const USAGE = `Usage: node peers/auth-server.mjs [options]

  --port PORT        TCP port on 127.0.0.1; 0 picks a free port
                     [MCPREG_TEST_AUTH_PORT] (default 0)
  --resource URL     accepted RFC 8707 resource indicator; repeat the flag
                     or separate values with commas in the env variable
                     [MCPREG_TEST_AUTH_RESOURCES] (default: any http or
                     https URL whose host is 127.0.0.1, localhost or [::1])
  --scope SCOPE      scope granted on the resource; repeat for more
                     [MCPREG_TEST_AUTH_SCOPES] (default mcp:tools)
  --cimd-origin HTTPS_ORIGIN=HTTP_ORIGIN
                     enable client ID metadata documents (draft-02) for
                     client_id URLs of HTTPS_ORIGIN, fetched from the
                     loopback HTTP_ORIGIN instead, as if a TLS proxy stood
                     in front of it; other client_id URLs are refused
                     [MCPREG_TEST_AUTH_CIMD_ORIGIN] (default: disabled)
  -h, --help         print this help
`;

const LOOPBACK_HOSTNAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);
const ACCESS_TOKEN_TTL_SECONDS = 3600;
const MAX_FORM_BYTES = 16 * 1024;

const options = readOptions({
  port: { env: 'MCPREG_TEST_AUTH_PORT', default: '0' },
  resource: { env: 'MCPREG_TEST_AUTH_RESOURCES', multiple: true },
  scope: {
    env: 'MCPREG_TEST_AUTH_SCOPES', multiple: true, default: ['mcp:tools'],
  },
  'cimd-origin': { env: 'MCPREG_TEST_AUTH_CIMD_ORIGIN' },
}, USAGE);

const registeredClientIds = [];
let providerRequestCount = 0;
let cimdFetchCount = 0;

// Parses --cimd-origin into { from, to } origins, or null when unset.
function parseCimdOrigin(text) {
  if (!text) return null;
  const [from, to] = text.split('=');
  const fromUrl = URL.parse(from ?? '');
  const toUrl = URL.parse(to ?? '');
  if (fromUrl?.protocol !== 'https:' || toUrl?.protocol !== 'http:' ||
      !LOOPBACK_HOSTNAMES.has(toUrl.hostname)) {
    process.stderr.write('--cimd-origin must be HTTPS_ORIGIN=HTTP_ORIGIN ' +
      `with a loopback HTTP_ORIGIN: ${text}\n\n${USAGE}`);
    process.exit(2);
  }
  return { from: fromUrl.origin, to: toUrl.origin };
}

const cimdOrigin = parseCimdOrigin(options['cimd-origin']);

// oidc-provider's fetch for client ID metadata documents: it maps the
// configured https origin to its loopback http origin and refuses every
// other URL, so that this peer never fetches anything else. oidc-provider's
// own dispatcher, which refuses loopback addresses, is dropped for the
// same reason.
async function fetchMappedDocument(url, fetchOptions) {
  const target = new URL(url);
  if (cimdOrigin === null || target.origin !== cimdOrigin.from) {
    throw new Error(`refusing to fetch ${target.origin}`);
  }
  const { dispatcher: _unused, ...rest } = fetchOptions;
  cimdFetchCount += 1;
  return fetch(`${cimdOrigin.to}${target.pathname}${target.search}`, rest);
}

// Returns whether `indicator` names a resource server this peer issues
// access tokens for.
function isAcceptedResource(indicator) {
  if (options.resource) {
    return options.resource.includes(indicator);
  }
  const url = URL.parse(indicator);
  return url !== null
    && (url.protocol === 'http:' || url.protocol === 'https:')
    && LOOPBACK_HOSTNAMES.has(url.hostname);
}

function createSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (character) => (
    `&#${character.charCodeAt(0)};`
  ));
}

function renderPage(title, body) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>
`;
}

function createProvider(issuer) {
  return new Provider(issuer, {
    jwks: { keys: [createSigningKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // Any login name is an account whose only claim is its subject.
    findAccount: async (_ctx, accountId) => ({
      accountId,
      claims: async () => ({ sub: accountId }),
    }),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    pkce: { required: () => true },
    fetch: fetchMappedDocument,
    responseTypes: ['code'],
    // The resource scopes are listed too, so that discovery advertises them
    // and a registration request whose scope names them is accepted.
    scopes: ['openid', 'offline_access', ...options.scope],
    // Lifetimes in seconds, set explicitly because oidc-provider prints a
    // notice whenever it falls back to a default.
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL_SECONDS,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      RefreshToken: 86400,
      Session: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      clientIdMetadataDocument: {
        enabled: cimdOrigin !== null,
        ack: 'draft-02',
        allowFetch: async (_ctx, clientId) =>
          new URL(clientId).origin === cimdOrigin?.from,
      },
      resourceIndicators: {
        enabled: true,
        // An authorization code grant keeps its resource for the token
        // request, so a client need not repeat the resource parameter.
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (!isAcceptedResource(indicator)) {
            throw new errors.InvalidTarget(
              `resource indicator not accepted: ${indicator}`);
          }
          return {
            scope: options.scope.join(' '),
            audience: indicator,
            accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
            accessTokenFormat: 'jwt',
          };
        },
      },
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const items = Object.entries(out).map(([name, value]) => (
        `<li>${escapeHtml(name)}: ${escapeHtml(value)}</li>`
      ));
      ctx.body = renderPage('Error', `<ul>${items.join('')}</ul>`);
    },
  });
}

function sendJson(response, status, body) {
  response.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  });
  response.end(JSON.stringify(body));
}

function sendHtml(response, status, html) {
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(html);
}

async function readForm(request) {
  let size = 0;
  const chunks = [];
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) {
      throw new Error(`form body larger than ${MAX_FORM_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function renderInteraction(provider, request, response) {
  const { uid, prompt, params } =
    await provider.interactionDetails(request, response);
  const action = `/interaction/${escapeHtml(uid)}`;
  const client = escapeHtml(params.client_id);

  if (prompt.name === 'login') {
    sendHtml(response, 200, renderPage('Sign in', `
<p>Client ${client} requests access. Any login name is accepted.</p>
<form method="post" action="${action}">
<input type="hidden" name="prompt" value="login">
<input type="text" name="login" required autofocus>
<button type="submit">Sign in</button>
</form>`));
    return;
  }

  if (prompt.name === 'consent') {
    sendHtml(response, 200, renderPage('Authorize', `
<p>Client ${client} requests access.</p>
<form method="post" action="${action}">
<input type="hidden" name="prompt" value="consent">
<button type="submit" autofocus>Allow</button>
</form>`));
    return;
  }

  sendHtml(response, 501, renderPage('Not implemented',
    `<p>Prompt ${escapeHtml(prompt.name)} is not implemented.</p>`));
}

// Completes the login or consent prompt, as oidc-provider's devInteractions
// do, and redirects the browser back into the authorization flow.
async function submitInteraction(provider, request, response) {
  const form = await readForm(request);
  const details = await provider.interactionDetails(request, response);
  const { prompt, grantId, session, params } = details;

  if (form.get('prompt') !== prompt.name) {
    sendHtml(response, 400, renderPage('Bad request',
      `<p>Expected the ${escapeHtml(prompt.name)} form.</p>`));
    return;
  }

  if (prompt.name === 'login') {
    const accountId = form.get('login');
    if (!accountId) {
      sendHtml(response, 400, renderPage('Bad request',
        '<p>Missing login name.</p>'));
      return;
    }
    log(PEER, 'login accepted', { account_id: accountId });
    await provider.interactionFinished(request, response,
      { login: { accountId } }, { mergeWithLastSubmission: false });
    return;
  }

  if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({
        accountId: session.accountId,
        clientId: params.client_id,
      });
    if (prompt.details.missingOIDCScope) {
      grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    }
    if (prompt.details.missingOIDCClaims) {
      grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    }
    const resourceScopes = prompt.details.missingResourceScopes ?? {};
    for (const [indicator, scopes] of Object.entries(resourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const savedGrantId = await grant.save();
    log(PEER, 'consent granted', {
      account_id: session.accountId, client_id: params.client_id,
    });
    await provider.interactionFinished(request, response,
      { consent: { grantId: savedGrantId } },
      { mergeWithLastSubmission: true });
    return;
  }

  sendHtml(response, 501, renderPage('Not implemented',
    `<p>Prompt ${escapeHtml(prompt.name)} is not implemented.</p>`));
}

// Forgets the client named in path, or answers 404.
async function forgetClient(provider, response, path) {
  const match = /^\/__test\/clients\/([^/]+)$/.exec(path);
  const id = match ? decodeURIComponent(match[1]) : '';
  if (!match || !(await provider.Client.find(id))) {
    sendJson(response, 404, { error: 'client_not_found' });
    return;
  }
  await provider.Client.adapter.destroy(id);
  log(PEER, 'client forgotten', { client_id: id });
  sendJson(response, 200, { forgotten: id });
}

async function handleTestRoute(provider, request, response, path) {
  if (request.method === 'DELETE') {
    await forgetClient(provider, response, path);
    return;
  }
  if (request.method !== 'GET') {
    response.setHeader('allow', 'GET, DELETE');
    sendJson(response, 405, { error: 'method_not_allowed' });
    return;
  }
  if (path === '/__test/registrations') {
    sendJson(response, 200, {
      count: registeredClientIds.length,
      client_ids: [...registeredClientIds],
    });
    return;
  }
  if (path === '/__test/requests') {
    sendJson(response, 200, { count: providerRequestCount });
    return;
  }
  if (path === '/__test/cimd-fetches') {
    sendJson(response, 200, { count: cimdFetchCount });
    return;
  }
  const clientMatch = /^\/__test\/clients\/([^/]+)$/.exec(path);
  if (clientMatch) {
    const client = await provider.Client.find(
      decodeURIComponent(clientMatch[1]));
    if (!client) {
      sendJson(response, 404, { error: 'client_not_found' });
      return;
    }
    sendJson(response, 200, client.metadata());
    return;
  }
  sendJson(response, 404, { error: 'not_found' });
}

async function main() {
  const port = parsePort(options.port);
  let provider;
  let providerCallback;

  // The issuer contains the port, which is known only after listen(), so
  // the server starts first and the provider is created right after.
  const server = http.createServer(async (request, response) => {
    const path = new URL(request.url, 'http://placeholder').pathname;
    try {
      if (path.startsWith('/__test/')) {
        await handleTestRoute(provider, request, response, path);
      } else if (path.startsWith('/interaction/')) {
        if (request.method === 'POST') {
          await submitInteraction(provider, request, response);
        } else {
          await renderInteraction(provider, request, response);
        }
      } else {
        providerRequestCount += 1;
        providerCallback(request, response);
      }
    } catch (error) {
      log(PEER, 'request failed', {
        method: request.method, path, error: error.message,
      });
      if (!response.headersSent) {
        sendHtml(response, 400, renderPage('Error',
          `<p>${escapeHtml(error.message)}</p>`));
      } else {
        response.end();
      }
    }
  });

  const issuer = await listenOnLoopback(server, port);
  provider = createProvider(issuer);
  providerCallback = provider.callback();

  provider.on('registration_create.success', (_ctx, client) => {
    registeredClientIds.push(client.clientId);
    log(PEER, 'client registered', {
      client_id: client.clientId,
      redirect_uris: client.redirectUris,
      registrations: registeredClientIds.length,
    });
  });
  provider.on('registration_create.error', (_ctx, error) => {
    log(PEER, 'client registration rejected', {
      error: error.error, error_description: error.error_description,
    });
  });
  provider.on('grant.success', (ctx) => {
    log(PEER, 'token issued', { client_id: ctx.oidc.client?.clientId });
  });
  provider.on('grant.error', (ctx, error) => {
    log(PEER, 'token request rejected', {
      client_id: ctx.oidc.client?.clientId,
      error: error.error,
      error_description: error.error_description,
    });
  });
  provider.on('authorization.error', (_ctx, error) => {
    log(PEER, 'authorization request rejected', {
      error: error.error, error_description: error.error_description,
    });
  });
  provider.on('server_error', (_ctx, error) => {
    log(PEER, 'server error', { error: error.stack });
  });

  exitOnSignal(PEER, server);
  log(PEER, 'listening', { issuer });
  announceReady({ url: issuer });
}

await main();
