// MCP server for tests, built on @modelcontextprotocol/sdk 1.32.2.
//
// It serves Streamable HTTP at /mcp with one tool, `echo`, in stateless
// mode, and protects it with OAuth bearer tokens issued by the
// authorization server given in --auth-server. It listens on 127.0.0.1
// only and prints one ready line on stdout:
//   {"ready":true,"url":"http://127.0.0.1:PORT"}
//
// A request to /mcp without a valid token gets 401 with
//   WWW-Authenticate: Bearer error="invalid_token", ...,
//     resource_metadata="http://127.0.0.1:PORT/.well-known/
//     oauth-protected-resource/mcp"
// (one line in practice), and that URL serves the RFC 9728 protected
// resource metadata. Both come from the SDK: requireBearerAuth builds the
// challenge and mcpAuthMetadataRouter serves the metadata. The router also
// serves a copy of the authorization server's RFC 8414 metadata at this
// server's /.well-known/oauth-authorization-server, as every SDK resource
// server does. The copy names the real authorization server as issuer.
//
// Tokens are JWT access tokens from the authorization server's
// resource-indicator grant (see auth-server.mjs), verified against its
// JWKS with issuer, audience (this server's /mcp URL) and expiry checks.
//
// Test-only route: GET /__test/requests returns {"count": N}, the number of
// requests received on /mcp and on /.well-known/ paths.
import './common.mjs';

import http from 'node:http';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  StreamableHTTPServerTransport,
} from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  localhostHostValidation,
} from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import {
  requireBearerAuth,
} from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import {
  getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter,
} from '@modelcontextprotocol/sdk/server/auth/router.js';
import {
  InvalidTokenError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as z from 'zod';

import {
  announceReady, exitOnSignal, listenOnLoopback, log, parsePort, readOptions,
} from './common.mjs';

const PEER = 'mcp-server';
const USAGE = `Usage: node peers/mcp-server.mjs --auth-server URL [options]

  --auth-server URL  issuer URL of the authorization server, which must be
                     running [MCPREG_TEST_AUTH_SERVER_URL] (required)
  --port PORT        TCP port on 127.0.0.1; 0 picks a free port
                     [MCPREG_TEST_MCP_PORT] (default 0)
  --scope SCOPE      scope a token must carry; repeat for more
                     [MCPREG_TEST_MCP_SCOPES] (default mcp:tools)
  -h, --help         print this help
`;

const METADATA_FETCH_TIMEOUT_MS = 5000;

const options = readOptions({
  'auth-server': { env: 'MCPREG_TEST_AUTH_SERVER_URL' },
  port: { env: 'MCPREG_TEST_MCP_PORT', default: '0' },
  scope: {
    env: 'MCPREG_TEST_MCP_SCOPES', multiple: true, default: ['mcp:tools'],
  },
}, USAGE);

let requestCount = 0;

// Fetches the authorization server's RFC 8414 metadata.
async function fetchAuthorizationServerMetadata(issuer) {
  const url = new URL('/.well-known/oauth-authorization-server', issuer);
  const response = await fetch(url, {
    signal: AbortSignal.timeout(METADATA_FETCH_TIMEOUT_MS),
  });
  if (!response.ok) {
    throw new Error(`GET ${url} failed with status ${response.status}`);
  }
  const metadata = await response.json();
  if (metadata.issuer !== issuer) {
    throw new Error(`authorization server metadata at ${url} has issuer ` +
      `${metadata.issuer}, expected ${issuer}`);
  }
  return metadata;
}

// Creates the SDK token verifier: a JWT access token is valid when the
// authorization server signed it for this resource and it has not expired.
function createTokenVerifier(metadata, resourceUrl) {
  const keySet = createRemoteJWKSet(new URL(metadata.jwks_uri));
  return {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, keySet, {
          issuer: metadata.issuer,
          audience: resourceUrl,
          typ: 'at+jwt',
        }));
      } catch (error) {
        throw new InvalidTokenError(`access token rejected: ${error.message}`);
      }
      return {
        token,
        clientId: payload.client_id,
        scopes: typeof payload.scope === 'string'
          ? payload.scope.split(' ') : [],
        expiresAt: payload.exp,
        resource: new URL(resourceUrl),
        extra: { subject: payload.sub },
      };
    },
  };
}

function createMcpServer() {
  const server = new McpServer({ name: 'mcpreg-test-mcp', version: '1.0.0' });
  server.registerTool('echo', {
    description: 'Returns the given text unchanged.',
    inputSchema: { text: z.string() },
  }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  return server;
}

// Handles one MCP POST with a fresh server and transport, as the SDK's
// stateless Streamable HTTP examples do.
async function handleMcpPost(request, response) {
  const server = createMcpServer();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
  });
  response.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(request, response, request.body);
}

function rejectWithoutSession(request, response) {
  response.set('allow', 'POST');
  response.status(405).json({
    jsonrpc: '2.0',
    error: { code: -32000, message: `${request.method} is not supported ` +
      'by this stateless server; use POST' },
    id: null,
  });
}

function createApp(baseUrl, metadata) {
  const resourceUrl = `${baseUrl}/mcp`;
  const app = express();
  app.disable('x-powered-by');
  app.use(localhostHostValidation());

  app.use((request, _response, next) => {
    if (request.path === '/mcp' || request.path.startsWith('/.well-known/')) {
      requestCount += 1;
      log(PEER, 'request', {
        method: request.method,
        path: request.path,
        authorization: request.headers.authorization ? 'present' : 'absent',
      });
    }
    next();
  });

  app.get('/__test/requests', (_request, response) => {
    response.json({ count: requestCount });
  });

  app.use(mcpAuthMetadataRouter({
    oauthMetadata: metadata,
    resourceServerUrl: new URL(resourceUrl),
    scopesSupported: options.scope,
    resourceName: 'mcpreg test MCP server',
  }));

  // Authentication runs before the body parser, so a request without a
  // token gets 401 whatever its body contains.
  const bearerAuth = requireBearerAuth({
    verifier: createTokenVerifier(metadata, resourceUrl),
    requiredScopes: options.scope,
    resourceMetadataUrl:
      getOAuthProtectedResourceMetadataUrl(new URL(resourceUrl)),
    expectedResource: new URL(resourceUrl),
  });
  app.post('/mcp', bearerAuth, express.json(), handleMcpPost);
  app.get('/mcp', bearerAuth, rejectWithoutSession);
  app.delete('/mcp', bearerAuth, rejectWithoutSession);

  app.use((error, request, response, _next) => {
    log(PEER, 'request failed', {
      method: request.method, path: request.path, error: error.message,
    });
    if (!response.headersSent) {
      response.status(error.status ?? 500).json({
        jsonrpc: '2.0',
        error: { code: -32603, message: error.message },
        id: null,
      });
    }
  });
  return app;
}

async function main() {
  const issuer = options['auth-server'];
  if (!issuer) {
    process.stderr.write(`missing --auth-server URL\n\n${USAGE}`);
    process.exit(2);
  }
  const port = parsePort(options.port);
  const metadata = await fetchAuthorizationServerMetadata(issuer);

  // The resource URL contains the port, which is known only after
  // listen(), so the app is attached right after.
  const server = http.createServer();
  const baseUrl = await listenOnLoopback(server, port);
  server.on('request', createApp(baseUrl, metadata));

  exitOnSignal(PEER, server);
  log(PEER, 'listening', { url: baseUrl, authorization_server: issuer });
  announceReady({ url: baseUrl });
}

await main();
