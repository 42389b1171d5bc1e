// Every error status of the REST API: the bare 401 and 403 bodies, the
// structured 400, 404, 405, 409, 422, 500 and 503 errors, and the gateway's
// response when mcpreg-registration is down. The last test stops
// mcpreg-registration, so it must stay last.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { API_BASE_PATH, describeResponse } from '../lib/api.mjs';
import {
  assertError, assertForbidden, assertRetryAfter, assertStatus,
  assertUnauthorized,
} from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, randomUUID, uniqueSuffix,
  unissuedKeyLike,
} from '../lib/fixtures.mjs';
import { exchangeOnOneConnection, flagValue } from '../lib/faults.mjs';
import { GATEWAY, REGISTRATION, useSystem } from '../lib/harness.mjs';
import { findFreePort } from '../lib/process.mjs';

// Maximum time for the gateway's response while mcpreg-registration is
// down. NOTE: the contract sets no deadline, so 10 s is an estimate that
// leaves room for a short connect timeout and one retry in the gateway.
const GATEWAY_DEADLINE_BOUND_MS = 10000;

let key;
let userId;
let workspaceId;
let oauthServer;
let headersServer;

const system = useSystem({
  label: 'errors',
  setup: async () => {
    userId = `errors-${uniqueSuffix()}`;
    const created = await system.createKey({ user: userId });
    key = created.key;
    workspaceId = created.workspace_id;
    oauthServer = await createServer(system, key,
      oauthServerBody(mcpEndpoint(system)));
    headersServer = await createServer(system, key, {
      name: `headers-${uniqueSuffix()}`,
      url: mcpEndpoint(system),
      auth_type: 'headers',
    });
  },
});

function validCreateBody() {
  return { name: `server-${uniqueSuffix()}`, url: mcpEndpoint(system) };
}

// One request per REST route, each with a well-formed path and body.
function everyRoute() {
  const id = oauthServer.id;
  return [
    ['GET', '/mcp-servers', undefined],
    ['POST', '/mcp-servers', validCreateBody()],
    ['GET', `/mcp-servers/${id}`, undefined],
    ['PATCH', `/mcp-servers/${id}`, { url: mcpEndpoint(system) }],
    ['DELETE', `/mcp-servers/${id}`, undefined],
    ['POST', `/mcp-servers/${id}/oauth-provider`, {}],
  ];
}

// The probes of an orchestrator need no API key: /healthz while the
// process serves, /readyz while it can reach a registration service.
test('health probes need no key', async () => {
  for (const path of ['/healthz', '/readyz']) {
    const got = await system.api('GET', path, { absolutePath: true });
    assertStatus(got, 200);
    assert.equal(got.headers.get('content-type'), 'application/json');
    assert.ok(got.headers.get('x-request-id'), `${path} has X-Request-Id`);

    const head = await system.api('HEAD', path, { absolutePath: true });
    assertStatus(head, 200);
    assert.equal(head.text, '');

    const post = await system.api('POST', path,
      { absolutePath: true, body: {} });
    assertError(post, 405, 'method_not_allowed');
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  }
});

test('missing X-Api-Key is 401', async (t) => {
  for (const [method, path, body] of everyRoute()) {
    await t.test(`${method} ${path}`, async () => {
      assertUnauthorized(await system.api(method, path, { body }));
    });
  }
  // Nothing was deleted by the unauthenticated DELETE.
  assertStatus(await system.api('GET', `/mcp-servers/${oauthServer.id}`,
    { key }), 200);
});

test('unknown API key is 403', async (t) => {
  const unknownKey = unissuedKeyLike(key);
  assert.notEqual(unknownKey, key);
  for (const [method, path, body] of everyRoute()) {
    await t.test(`${method} ${path}`, async () => {
      assertForbidden(await system.api(method, path, {
        key: unknownKey, body,
      }));
    });
  }
});

test('malformed API key is 403', async (t) => {
  const malformedKeys = ['not-a-key', 'mcpreg_', 'mcpreg_!!!', `x${key}`];
  for (const malformed of malformedKeys) {
    await t.test(JSON.stringify(malformed), async () => {
      assertForbidden(await system.api('GET', '/mcp-servers', {
        key: malformed,
      }));
    });
  }
});

test('revoked API key is 403', async () => {
  const revoked = await system.createKey({
    workspace: workspaceId, user: userId, name: 'to-revoke',
  });
  assertStatus(await system.api('GET', '/mcp-servers', {
    key: revoked.key,
  }), 200);

  await system.revokeKey(revoked.key_id);

  assertForbidden(await system.api('GET', '/mcp-servers', {
    key: revoked.key,
  }));
  assertForbidden(await system.api('POST',
    `/mcp-servers/${oauthServer.id}/oauth-provider`, {
      key: revoked.key, body: {},
    }));
});

test('malformed JSON is 400 invalid_request_body', async (t) => {
  const cases = [
    ['POST', '/mcp-servers', '{"name":'],
    ['POST', '/mcp-servers', 'name=x'],
    ['PATCH', `/mcp-servers/${headersServer.id}`, '['],
    ['POST', `/mcp-servers/${oauthServer.id}/oauth-provider`, '{'],
  ];
  for (const [method, path, rawBody] of cases) {
    await t.test(`${method} ${path} ${rawBody}`, async () => {
      const response = await system.api(method, path, { key, rawBody });
      assertError(response, 400, 'invalid_request_body');
    });
  }
});

test('missing name or url is 400', async (t) => {
  const cases = [
    ['name', { url: mcpEndpoint(system) }],
    ['url', { name: `server-${uniqueSuffix()}` }],
  ];
  for (const [missing, body] of cases) {
    await t.test(`without ${missing}`, async () => {
      const response = await system.api('POST', '/mcp-servers', {
        key, body,
      });
      assertError(response, 400, 'missing_required_field');
    });
  }
});

test('wrong JSON type is 400 invalid_field', async (t) => {
  const cases = [
    ['POST', '/mcp-servers', { ...validCreateBody(), name: 42 }],
    ['POST', '/mcp-servers', { ...validCreateBody(), url: 7 }],
    ['POST', '/mcp-servers', { ...validCreateBody(), headers: 'x' }],
    ['POST', '/mcp-servers',
      { ...validCreateBody(), headers: [{ key: 1, value: 'v' }] }],
    ['POST', '/mcp-servers', { ...validCreateBody(), auth_type: 5 }],
    ['PATCH', `/mcp-servers/${headersServer.id}`, { url: false }],
    ['PATCH', `/mcp-servers/${headersServer.id}`, { headers: {} }],
    ['POST', `/mcp-servers/${oauthServer.id}/oauth-provider`,
      { ls_user_id: 5 }],
  ];
  for (const [method, path, body] of cases) {
    await t.test(`${method} ${JSON.stringify(body)}`, async () => {
      const response = await system.api(method, path, { key, body });
      assertError(response, 400, 'invalid_field');
    });
  }
});

// The detail names a control character by its code point and offset, as
// it does for the other characters that ids may not contain.
test('control character in name is named', async (t) => {
  for (const [name, codePoint] of [['a\tb', 'U+0009'], ['a\x7fb', 'U+007F'],
    ['a\x01', 'U+0001']]) {
    await t.test(codePoint, async () => {
      const response = await system.api('POST', '/mcp-servers', {
        key, body: { ...validCreateBody(), name },
      });
      assertError(response, 400, 'invalid_field');
      assert.match(response.json.detail, new RegExp(`U\\+${codePoint.slice(2)} `));
      assert.match(response.json.detail, /byte offset \d+/);
    });
  }
});

// A PATCH may leave url out, so an empty one is an invalid URL, not a
// missing field.
test('PATCH with empty url is 422', async () => {
  const response = await system.api('PATCH', `/mcp-servers/${headersServer.id}`,
    { key, body: { url: '' } });
  assertError(response, 422, 'invalid_mcp_server_url');
  assert.match(response.json.detail, /empty/);
});

test('unknown field is 400 unknown_field', async (t) => {
  const cases = [
    ['POST', '/mcp-servers', { ...validCreateBody(), colour: 'red' }],
    // name is fixed at creation, so the update schema has no such member.
    ['PATCH', `/mcp-servers/${headersServer.id}`, { name: 'renamed' }],
  ];
  for (const [method, path, body] of cases) {
    await t.test(`${method} ${JSON.stringify(body)}`, async () => {
      const response = await system.api(method, path, { key, body });
      assertError(response, 400, 'unknown_field');
    });
  }
});

test('non-UUID path id is 400', async (t) => {
  const uuid = randomUUID();
  const badIds = [
    'not-a-uuid',
    '1234',
    uuid.replaceAll('-', ''),
    `%7B${uuid}%7D`,
    `${uuid}0`,
  ];
  for (const badId of badIds) {
    const cases = [
      ['GET', `/mcp-servers/${badId}`, undefined],
      ['PATCH', `/mcp-servers/${badId}`, { url: mcpEndpoint(system) }],
      ['DELETE', `/mcp-servers/${badId}`, undefined],
      ['POST', `/mcp-servers/${badId}/oauth-provider`, {}],
    ];
    for (const [method, path, body] of cases) {
      await t.test(`${method} ${path}`, async () => {
        const response = await system.api(method, path, { key, body });
        assertError(response, 400, 'invalid_mcp_server_id');
      });
    }
  }
});

test('unknown server id is 404', async (t) => {
  const unknownId = randomUUID();
  const cases = [
    ['GET', `/mcp-servers/${unknownId}`, undefined],
    ['PATCH', `/mcp-servers/${unknownId}`, { url: mcpEndpoint(system) }],
    ['POST', `/mcp-servers/${unknownId}/oauth-provider`, {}],
  ];
  for (const [method, path, body] of cases) {
    await t.test(`${method} ${path}`, async () => {
      const response = await system.api(method, path, { key, body });
      assertError(response, 404, 'mcp_server_not_found');
    });
  }
});

test('disallowed or invalid url is 422', async (t) => {
  const requestsBefore = await system.requestCounts();
  const badUrls = [
    'http://example.invalid/mcp',
    'not a url',
    'ftp://127.0.0.1/mcp',
    '/mcp',
  ];
  for (const url of badUrls) {
    await t.test(`POST ${url}`, async () => {
      const response = await system.api('POST', '/mcp-servers', {
        key, body: { ...validCreateBody(), url },
      });
      assertError(response, 422, 'invalid_mcp_server_url');
    });
    await t.test(`PATCH ${url}`, async () => {
      const response = await system.api('PATCH',
        `/mcp-servers/${headersServer.id}`, { key, body: { url } });
      assertError(response, 422, 'invalid_mcp_server_url');
    });
  }
  assert.deepEqual(await system.requestCounts(), requestsBefore,
    'validation must contact neither peer');
});

test('oauth_mode without oauth is 422', async (t) => {
  const cases = [
    ['POST no auth_type', 'POST', '/mcp-servers',
      { ...validCreateBody(), oauth_mode: 'per_user_dynamic_client' }],
    ['POST auth_type headers', 'POST', '/mcp-servers', {
      ...validCreateBody(),
      auth_type: 'headers',
      oauth_mode: 'per_user_dynamic_client',
    }],
    ['PATCH headers server', 'PATCH', `/mcp-servers/${headersServer.id}`,
      { oauth_mode: 'per_user_dynamic_client' }],
  ];
  for (const [name, method, path, body] of cases) {
    await t.test(name, async () => {
      const response = await system.api(method, path, { key, body });
      assertError(response, 422, 'invalid_auth_config');
    });
  }
});

test('oauth-provider on headers server is 400', async () => {
  const countBefore = (await system.registrations()).count;
  const response = await system.api('POST',
    `/mcp-servers/${headersServer.id}/oauth-provider`, { key, body: {} });
  assertError(response, 400, 'mcp_server_not_per_user_oauth');
  assert.equal((await system.registrations()).count, countBefore);
});

test('duplicate name is 409', async () => {
  const body = validCreateBody();
  assertStatus(await system.api('POST', '/mcp-servers', { key, body }), 201);
  const response = await system.api('POST', '/mcp-servers', {
    key, body: { ...body, url: `${system.mcpUrl}/second/mcp` },
  });
  assertError(response, 409, 'mcp_server_name_conflict');
});

test('unknown route is 404', async (t) => {
  const paths = [
    `${API_BASE_PATH}/no-such-route`,
    `${API_BASE_PATH}/mcp-servers/${oauthServer.id}/no-such-route`,
    '/no-such-route',
  ];
  for (const path of paths) {
    await t.test(`GET ${path}`, async () => {
      const response = await system.api('GET', path, {
        key, absolutePath: true,
      });
      assertError(response, 404, 'route_not_found');
    });
  }
});

// RFC 9112 section 3.2.2: a server accepts a request target in absolute
// form, and routes by its path whatever its host. A target that only looks
// like one after decoding, or whose authority is invalid, matches no route.
test('absolute-form target is routed', async () => {
  const port = Number(flagValue(system.processes.get(GATEWAY).args,
    '--listen').split(':').pop());
  const headers = { 'X-Api-Key': key };
  const itemPath = `${API_BASE_PATH}/mcp-servers/${oauthServer.id}`;
  const unrouted = [
    `http://127.0.0.1:${port}${API_BASE_PATH}/nope`,
    `%68ttp://other.example${itemPath}`,
    `http://user@other.example${itemPath}`,
    `http://other.example#${itemPath}`,
    `http://${itemPath}`,
  ];
  const [item, ...others] = await exchangeOnOneConnection(port, [
    { method: 'GET', path: `http://other.example${itemPath}`, headers },
    ...unrouted.map((path) => ({ method: 'GET', path, headers })),
  ]);

  assert.equal(item.status, 200, item.body);
  assert.equal(JSON.parse(item.body).id, oauthServer.id);
  others.forEach((response, i) => {
    assert.equal(response.status, 404, `${unrouted[i]}: ${response.body}`);
    assert.equal(JSON.parse(response.body).code, 'route_not_found');
  });
});

test('wrong method is 405 with Allow', async (t) => {
  const id = oauthServer.id;
  const cases = [
    ['PUT', '/mcp-servers', ['GET', 'HEAD', 'POST']],
    ['DELETE', '/mcp-servers', ['GET', 'HEAD', 'POST']],
    ['PUT', `/mcp-servers/${id}`, ['DELETE', 'GET', 'HEAD', 'PATCH']],
    ['POST', `/mcp-servers/${id}`, ['DELETE', 'GET', 'HEAD', 'PATCH']],
    ['GET', `/mcp-servers/${id}/oauth-provider`, ['POST']],
  ];
  for (const [method, path, allowed] of cases) {
    await t.test(`${method} ${path}`, async () => {
      // fetch() sends no body with GET.
      const body = method === 'GET' ? undefined : {};
      const response = await system.api(method, path, { key, body });
      assertError(response, 405, 'method_not_allowed');
      const allow = response.headers.get('allow');
      assert.ok(allow, `Allow header missing: ${describeResponse(response)}`);
      const methods = allow.split(',').map((item) => item.trim());
      for (const expected of allowed) {
        assert.ok(methods.includes(expected),
          `Allow: ${allow} lacks ${expected}`);
      }
      assert.ok(!methods.includes(method), `Allow: ${allow} has ${method}`);
    });
  }
});

test('list over the reply limit is 500', async () => {
  // A workspace of its own whose server list outgrows the 8 MiB limit of
  // one RPC reply: about 60 KiB of header values a server, 150 servers.
  const big = await system.createKey({ user: `big-${uniqueSuffix()}` });
  const headers = Array.from({ length: 7 }, (_, i) => ({
    key: `X-Big-${i}`, value: 'v'.repeat(8000),
  }));
  for (let i = 0; i < 150; i++) {
    const created = await system.api('POST', '/mcp-servers', {
      key: big.key,
      body: { ...validCreateBody(), headers },
    });
    assertStatus(created, 201);
  }

  const list = await system.api('GET', '/mcp-servers', { key: big.key });
  assertError(list, 500, 'internal_error');

  // The failure stays with its caller: the shared connection still works.
  const other = await system.api('GET', '/mcp-servers', { key });
  assertStatus(other, 200);
  assert.ok(other.json.some((server) => server.id === oauthServer.id));
});

test('unreachable MCP server is 503', async () => {
  const closedPort = await findFreePort();
  const unreachable = await createServer(system, key, oauthServerBody(
    `http://127.0.0.1:${closedPort}/mcp`));
  const countBefore = (await system.registrations()).count;

  const response = await system.api('POST',
    `/mcp-servers/${unreachable.id}/oauth-provider`, { key, body: {} });
  assertError(response, 503, 'mcp_server_unreachable');
  assertRetryAfter(response);
  assert.equal((await system.registrations()).count, countBefore);
});

// Must stay the last test: it stops mcpreg-registration.
test('registration down is 503 in time', async (t) => {
  const exit = await system.stopProcess(REGISTRATION);
  assert.deepEqual(exit, { code: 0, signal: null, killed: false },
    `${REGISTRATION} must exit 0 on SIGTERM`);

  await t.test('missing key is still 401', async () => {
    assertUnauthorized(await system.api('GET', '/mcp-servers'));
  });

  for (const [method, path, body] of everyRoute()) {
    await t.test(`${method} ${path}`, async () => {
      const response = await system.api(method, path, {
        key, body, timeoutMs: GATEWAY_DEADLINE_BOUND_MS + 5000,
      });
      assertError(response, 503, 'service_unavailable');
      assertRetryAfter(response);
      assert.ok(response.elapsedMs < GATEWAY_DEADLINE_BOUND_MS,
        `answered after ${Math.round(response.elapsedMs)} ms`);
    });
  }
});
