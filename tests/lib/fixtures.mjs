// Small builders for integration test data.
import { randomBytes, randomUUID } from 'node:crypto';

import { assertStatus } from './assertions.mjs';

export { randomUUID };

// Returns a short random suffix that keeps names and user ids unique.
export function uniqueSuffix() {
  return randomBytes(4).toString('hex');
}

// Returns the MCP endpoint URL of the test MCP server.
export function mcpEndpoint(system) {
  return `${system.mcpUrl}/mcp`;
}

// Request body for an MCP server with per-user dynamic client OAuth.
export function oauthServerBody(url, name = `oauth-${uniqueSuffix()}`) {
  return {
    name,
    url,
    auth_type: 'oauth',
    oauth_mode: 'per_user_dynamic_client',
  };
}

// Creates an MCP server with `body` and returns the 201 response's record.
export async function createServer(system, key, body) {
  const response = await system.api('POST', '/mcp-servers', { key, body });
  assertStatus(response, 201);
  return response.json;
}

// Returns an API key that has the shape of `realKey` (same prefix, length
// and alphabet) but was never issued.
export function unissuedKeyLike(realKey) {
  const prefix = 'mcpreg_';
  const alphabet = [...new Set(realKey.slice(prefix.length))];
  const length = realKey.length - prefix.length;
  let body = '';
  for (const byte of randomBytes(length)) {
    body += alphabet[byte % alphabet.length];
  }
  return prefix + body;
}
