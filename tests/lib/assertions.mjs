// Assertions on mcpreg REST responses, shared by the integration tests.
import assert from 'node:assert/strict';

import { describeResponse } from './api.mjs';

// Canonical UUID text: lowercase hex in 8-4-4-4-12 groups.
export const UUID_PATTERN =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// RFC 3339 date-time, as OpenAPI's date-time format requires.
const DATE_TIME_PATTERN =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

// Members of the McpServer schema in the REST contract.
export const MCP_SERVER_FIELDS = [
  'auth_type', 'can_invoke', 'created_at', 'external_system_id', 'headers',
  'id', 'mcp_vendor_id', 'name', 'oauth_mode', 'oauth_provider_id',
  'tenant_id', 'updated_at', 'url', 'vendor_id',
];

const OAUTH_MODES = ['legacy_shared_provider', 'per_user_dynamic_client'];

export function assertStatus(response, status) {
  assert.equal(response.status, status,
    `expected status ${status}: ${describeResponse(response)}`);
}

export function assertUuid(value, label) {
  assert.equal(typeof value, 'string', `${label} must be a string`);
  assert.match(value, UUID_PATTERN, `${label} must be a canonical UUID`);
}

// Asserts the structured error body. It has exactly the members type, code,
// detail and status. type is a URI ending in "/" + code, and status repeats
// the HTTP status.
export function assertError(response, status, code) {
  const context = describeResponse(response);
  assertStatus(response, status);
  const body = response.json;
  assert.equal(typeof body, 'object', `body must be JSON: ${context}`);
  assert.notEqual(body, null, `body must not be null: ${context}`);
  assert.deepEqual(Object.keys(body).sort(),
    ['code', 'detail', 'status', 'type'],
    `error body members: ${context}`);
  assert.equal(body.code, code, `error code: ${context}`);
  assert.equal(body.status, status, `error status member: ${context}`);
  assert.equal(typeof body.type, 'string',
    `type must be a string: ${context}`);
  assert.ok(URL.canParse(body.type), `type must be a URI: ${context}`);
  assert.ok(body.type.endsWith(`/${code}`),
    `type must end in /${code}: ${context}`);
  assert.equal(typeof body.detail, 'string',
    `detail must be a string: ${context}`);
  assert.ok(body.detail.trim().length > 0,
    `detail must not be empty: ${context}`);
}

// Asserts 401 with the body exactly {"error":"Unauthorized"} and the
// API key challenge.
export function assertUnauthorized(response) {
  assertStatus(response, 401);
  assert.deepEqual(response.json, { error: 'Unauthorized' },
    describeResponse(response));
  // RFC 9110 section 15.5.2: every 401 carries a challenge.
  assert.equal(response.headers.get('www-authenticate'),
    'ApiKey header="X-Api-Key"', describeResponse(response));
}

// Asserts 403 with the body exactly {"error":"Forbidden"}.
export function assertForbidden(response) {
  assertStatus(response, 403);
  assert.deepEqual(response.json, { error: 'Forbidden' },
    describeResponse(response));
}

// Asserts a Retry-After header with a delay in seconds or an HTTP date.
export function assertRetryAfter(response) {
  const value = response.headers.get('retry-after');
  assert.ok(value,
    `Retry-After header missing: ${describeResponse(response)}`);
  const isSeconds = /^\d+$/.test(value);
  const isDate = !Number.isNaN(Date.parse(value));
  assert.ok(isSeconds || isDate,
    `Retry-After must be seconds or an HTTP date, got ${value}`);
}

// Asserts that `body` is an McpServer record with only the schema's
// members, and that the members in `expected` have the given values.
export function assertMcpServer(body, expected = {}) {
  const context = JSON.stringify(body);
  assert.equal(typeof body, 'object',
    `McpServer must be an object: ${context}`);
  for (const name of Object.keys(body)) {
    assert.ok(MCP_SERVER_FIELDS.includes(name),
      `unexpected McpServer member ${name}: ${context}`);
  }

  assertUuid(body.id, 'id');
  assertUuid(body.tenant_id, 'tenant_id');
  assert.equal(typeof body.name, 'string', `name: ${context}`);
  assert.equal(typeof body.url, 'string', `url: ${context}`);
  assert.ok(Array.isArray(body.headers),
    `headers must be an array: ${context}`);
  for (const header of body.headers) {
    assert.equal(typeof header.key, 'string', `header key: ${context}`);
  }
  assert.ok(['headers', 'oauth'].includes(body.auth_type),
    `auth_type: ${context}`);
  // The published schema types oauth_mode as a string, so a server without
  // a mode has no member, and never null.
  if ('oauth_mode' in body) {
    assert.ok(OAUTH_MODES.includes(body.oauth_mode), `oauth_mode: ${context}`);
  }

  assert.match(body.created_at, DATE_TIME_PATTERN, `created_at: ${context}`);
  assert.match(body.updated_at, DATE_TIME_PATTERN, `updated_at: ${context}`);
  assert.ok(Date.parse(body.updated_at) >= Date.parse(body.created_at),
    `updated_at must not precede created_at: ${context}`);
  assert.equal(typeof body.can_invoke, 'boolean', `can_invoke: ${context}`);
  for (const name of ['mcp_vendor_id', 'vendor_id', 'external_system_id',
    'oauth_provider_id']) {
    const value = body[name];
    assert.ok(value === null || typeof value === 'string',
      `${name} must be a string or null: ${context}`);
  }

  for (const [name, value] of Object.entries(expected)) {
    assert.deepEqual(body[name], value, `${name}: ${context}`);
  }
}
