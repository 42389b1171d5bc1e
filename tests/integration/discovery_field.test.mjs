// Discovery and registration against servers that behave as real ones in
// the field do. Each test starts a scripted fake (tests/fake/) that plays
// the MCP server and its authorization server on one loopback port, calls
// oauth-provider once, and checks the outcome and every request the fake
// saw: a failing case must not have registered a client anywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import { assertError, assertStatus, assertUuid } from '../lib/assertions.mjs';
import { createServer, oauthServerBody } from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import {
  MCP_PATH, REGISTER_PATH, json, postsBesidesProbe, registered,
  resourceMetadata, serverMetadata, startScriptedFake, typed, unauthorized,
  wellBehaved,
} from '../fake/scenarios.mjs';

const TENANT = '/tenant/T1';
const ISSUER = `{{origin}}${TENANT}`;
const TENANT_REGISTER = `${TENANT}${REGISTER_PATH}`;

let key;

const system = useSystem({
  label: 'discovery-field',
  setup: async () => {
    key = (await system.createKey({ user: 'field-user', name: 'field' })).key;
  },
});

// Runs one case: scripts a fake with `routes`, creates an OAuth MCP server
// for it and calls oauth-provider. Returns { response, log }, where log
// is the fake's request log after the call.
async function runCase(routes) {
  const scripted = await startScriptedFake(routes);
  try {
    const server = await createServer(system, key,
      oauthServerBody(scripted.mcpUrl));
    const response = await system.api('POST',
      `/mcp-servers/${server.id}/oauth-provider`, { key, body: {} });
    return { response, log: await scripted.requests() };
  } finally {
    await scripted.fake.close();
  }
}

function count(log, method, path) {
  return log.counts[`${method} ${path}`] ?? 0;
}

function assertRegisteredOnce(result, path = REGISTER_PATH) {
  assertStatus(result.response, 200);
  assertUuid(result.response.json.oauth_provider_id, 'oauth_provider_id');
  assert.equal(count(result.log, 'POST', path), 1,
    `one registration POST to ${path}: ${JSON.stringify(result.log.counts)}`);
  assert.equal(postsBesidesProbe(result.log).length, 1,
    `no other POST: ${JSON.stringify(result.log.counts)}`);
}

function assertNothingRegistered(result) {
  assert.deepEqual(postsBesidesProbe(result.log), [],
    'a failing case must not post to any registration endpoint');
}

// The multi-tenant issuer: its resource metadata names {{origin}}/tenant/T1.
function tenantRoutes(metadataRoutes) {
  return wellBehaved({
    [`/.well-known/oauth-protected-resource${MCP_PATH}`]: json(
      resourceMetadata({ authorizationServers: [ISSUER] })),
    '/.well-known/oauth-authorization-server': json(
      serverMetadata('{{origin}}/tenant/T2')),
    [TENANT_REGISTER]: registered(),
    ...metadataRoutes,
  });
}

test('tenant issuer uses path insertion', async () => {
  const result = await runCase(tenantRoutes({
    [`/.well-known/oauth-authorization-server${TENANT}`]:
      json(serverMetadata(ISSUER)),
  }));

  assertRegisteredOnce(result, TENANT_REGISTER);
  assert.equal(count(result.log, 'GET',
    '/.well-known/oauth-authorization-server'), 0,
  'the root well-known URL belongs to another tenant and must not be read');
});

test('tenant issuer with root 404', async () => {
  const result = await runCase(tenantRoutes({
    '/.well-known/oauth-authorization-server': { status: 404 },
    [`/.well-known/oauth-authorization-server${TENANT}`]:
      json(serverMetadata(ISSUER)),
  }));

  assertRegisteredOnce(result, TENANT_REGISTER);
});

test('tenant issuer OIDC insertion only', async () => {
  const result = await runCase(tenantRoutes({
    [`/.well-known/openid-configuration${TENANT}`]:
      json(serverMetadata(ISSUER)),
  }));

  assertRegisteredOnce(result, TENANT_REGISTER);
  assert.equal(count(result.log, 'GET',
    `/.well-known/oauth-authorization-server${TENANT}`), 1,
  'RFC 8414 path insertion is tried first');
});

test('tenant issuer OIDC appending only', async () => {
  const result = await runCase(tenantRoutes({
    [`${TENANT}/.well-known/openid-configuration`]:
      json(serverMetadata(ISSUER)),
  }));

  assertRegisteredOnce(result, TENANT_REGISTER);
  assert.equal(count(result.log, 'GET',
    `/.well-known/openid-configuration${TENANT}`), 1,
  'OpenID Connect path insertion is tried before appending');
});

test('root issuer OIDC only', async () => {
  const result = await runCase(wellBehaved({
    '/.well-known/oauth-authorization-server': { status: 404 },
    '/.well-known/openid-configuration': json(serverMetadata('{{origin}}')),
  }));

  assertRegisteredOnce(result);
});

test('tenant well-known 301 same host', async () => {
  const moved = '/moved/tenant-metadata';
  const result = await runCase(tenantRoutes({
    [`/.well-known/oauth-authorization-server${TENANT}`]: {
      status: 301, headers: [['Location', `{{origin}}${moved}`]],
    },
    [moved]: json(serverMetadata(ISSUER)),
  }));

  assertRegisteredOnce(result, TENANT_REGISTER);
  assert.equal(count(result.log, 'GET', moved), 1, 'the redirect is followed');
});

test('two resource_metadata, first 404', async () => {
  const result = await runCase(wellBehaved({
    [MCP_PATH]: unauthorized('Bearer resource_metadata="{{origin}}/prm/a", ' +
      'resource_metadata="{{origin}}/prm/b"'),
    '/prm/a': { status: 404 },
    '/prm/b': json(resourceMetadata()),
  }));

  assertRegisteredOnce(result);
  assert.equal(count(result.log, 'GET', '/prm/a'), 1);
  assert.equal(count(result.log, 'GET', '/prm/b'), 1);
});

test('lookalike parameters are ignored', async () => {
  const result = await runCase(wellBehaved({
    [MCP_PATH]: unauthorized('Bearer error_scope="x", ' +
      'x_resource_metadata="{{origin}}/elsewhere"'),
    '/elsewhere': json(resourceMetadata({ scopes: ['x'] })),
    [`/.well-known/oauth-protected-resource${MCP_PATH}`]:
      json(resourceMetadata({ scopes: ['files.read'] })),
  }));

  assertRegisteredOnce(result);
  assert.equal(count(result.log, 'GET', '/elsewhere'), 0,
    'x_resource_metadata must not be read as resource_metadata');
  const [post] = postsBesidesProbe(result.log);
  assert.equal(JSON.parse(post.body).scope, 'files.read',
    'error_scope must not be read as scope');
});

test('Bearer after DPoP with spaced =', async () => {
  const result = await runCase(wellBehaved({
    [MCP_PATH]: unauthorized('DPoP algs="ES256", Bearer scope = "a b", ' +
      'resource_metadata = "{{origin}}/prm/spaced"'),
    '/prm/spaced': json(resourceMetadata({ scopes: ['other'] })),
  }));

  assertRegisteredOnce(result);
  assert.equal(count(result.log, 'GET', '/prm/spaced'), 1);
  const [post] = postsBesidesProbe(result.log);
  assert.equal(JSON.parse(post.body).scope, 'a b',
    'the challenge scope wins over scopes_supported');
});

for (const [label, insertedResponse] of [
  ['401', { status: 401, body: '' }],
  ['html catch-all', {
    status: 200,
    headers: [['Content-Type', 'text/html']],
    body: '<!doctype html><html><body><div id="app"></div></body></html>',
  }],
]) {
  test(`inserted PRM ${label}, root works`, async () => {
    const result = await runCase(wellBehaved({
      [MCP_PATH]: unauthorized('Bearer realm="mcp"'),
      [`/.well-known/oauth-protected-resource${MCP_PATH}`]: insertedResponse,
      '/.well-known/oauth-protected-resource': json(resourceMetadata()),
    }));

    assertRegisteredOnce(result);
    assert.equal(count(result.log, 'GET',
      `/.well-known/oauth-protected-resource${MCP_PATH}`), 1);
    assert.equal(count(result.log, 'GET',
      '/.well-known/oauth-protected-resource'), 1);
  });
}

test('no registration endpoint nor CIMD', async () => {
  const result = await runCase(wellBehaved({
    '/.well-known/oauth-authorization-server': json(
      serverMetadata('{{origin}}', { registrationEndpoint: null })),
  }));

  assertError(result.response, 400, 'registration_not_supported');
  assertNothingRegistered(result);
  assert.equal(count(result.log, 'POST', REGISTER_PATH), 0,
    '/register must not be guessed when metadata exists');
});

test('registration 200 accepted', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: registered({ status: 200 }),
  }));

  assertRegisteredOnce(result);
});

test('Content-Type exactly application/json', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: [
      { ...registered(), when: { content_type: 'application/json' } },
      json({ error: 'invalid_client_metadata',
        error_description: 'unsupported media type' }, 400),
    ],
  }));

  assertRegisteredOnce(result);
  const [post] = postsBesidesProbe(result.log);
  assert.equal(post.content_type, 'application/json');
});

test('registers only none: retry once', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: [
      { ...registered({ method: 'none', secret: false }),
        when: { json: { token_endpoint_auth_method: 'none' } } },
      json({ error: 'invalid_client_metadata',
        error_description: 'token_endpoint_auth_method client_secret_basic ' +
          'is not allowed; use none' }, 400),
    ],
  }));

  assertStatus(result.response, 200);
  const posts = postsBesidesProbe(result.log);
  assert.equal(posts.length, 2, describeResponse(result.response));
  assert.equal(JSON.parse(posts[0].body).token_endpoint_auth_method,
    'client_secret_basic', 'the first request prefers client_secret_basic');
  assert.equal(JSON.parse(posts[1].body).token_endpoint_auth_method, 'none');
});

test('rejects none retry only once', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: json({ error: 'invalid_client_metadata',
      error_description: 'token_endpoint_auth_method is not allowed' }, 400),
  }));

  assertError(result.response, 400, 'registration_rejected');
  assert.match(result.response.json.detail, /invalid_client_metadata/);
  assert.equal(postsBesidesProbe(result.log).length, 2,
    'one retry with none, then the rejection stands');
});

test('other rejections are not retried', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: json({ error: 'invalid_redirect_uri',
      error_description: 'redirect URI host is not allowed' }, 400),
  }));

  assertError(result.response, 400, 'registration_rejected');
  assert.match(result.response.json.detail, /invalid_redirect_uri/);
  assert.equal(postsBesidesProbe(result.log).length, 1);
});

test('basic without secret is rejected', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: registered({ secret: false }),
  }));

  assertError(result.response, 400, 'registration_secret_missing');
  assert.equal(postsBesidesProbe(result.log).length, 1);
});

test('secret expired at receipt: once more', async () => {
  const past = Math.floor(Date.now() / 1000) - 3600;
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: [
      { ...registered({ extra: { client_secret_expires_at: past } }),
        times: 1 },
      registered(),
    ],
  }));

  assertStatus(result.response, 200);
  assert.equal(postsBesidesProbe(result.log).length, 2,
    'an already expired secret is replaced by one more registration');
});

test('secret expired twice fails', async () => {
  const past = Math.floor(Date.now() / 1000) - 3600;
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: registered({
      extra: { client_secret_expires_at: past },
    }),
  }));

  assertError(result.response, 400, 'registration_response_invalid');
  assert.match(result.response.json.detail, /client_secret_expires_at/);
  assert.equal(postsBesidesProbe(result.log).length, 2);
});

test('issuer mismatch registers nothing', async () => {
  const result = await runCase(tenantRoutes({
    [`/.well-known/oauth-authorization-server${TENANT}`]:
      json(serverMetadata('{{origin}}/tenant/T2')),
  }));

  assertError(result.response, 400, 'issuer_mismatch');
  assertNothingRegistered(result);
});

test('no PKCE S256 registers nothing', async () => {
  const result = await runCase(wellBehaved({
    '/.well-known/oauth-authorization-server': json(
      serverMetadata('{{origin}}', { pkce: ['plain'] })),
  }));

  assertError(result.response, 400, 'pkce_not_supported');
  assertNothingRegistered(result);
});

test('resource mismatch registers nothing', async () => {
  const result = await runCase(wellBehaved({
    [`/.well-known/oauth-protected-resource${MCP_PATH}`]: json(
      resourceMetadata({ resource: '{{origin}}/other' })),
  }));

  assertError(result.response, 400, 'resource_mismatch');
  assertNothingRegistered(result);
});

test('no metadata anywhere fails', async () => {
  const result = await runCase(wellBehaved({
    [MCP_PATH]: unauthorized('Bearer realm="mcp"'),
    [`/.well-known/oauth-protected-resource${MCP_PATH}`]: {
      status: 200, headers: [['Content-Type', 'text/html']], body: '<html>',
    },
  }));

  assertError(result.response, 400, 'protected_resource_metadata_invalid');
  assertNothingRegistered(result);
});

test('expired stored secret re-registers', async () => {
  const lifetimeSeconds = 3;
  const scripted = await startScriptedFake(wellBehaved({
    [REGISTER_PATH]: [
      {
        ...registered({
          extra: {
            client_secret_expires_at:
              Math.floor(Date.now() / 1000) + lifetimeSeconds,
          },
        }),
        times: 1,
      },
      registered(),
    ],
  }));
  try {
    const server = await createServer(system, key,
      oauthServerBody(scripted.mcpUrl));
    const call = () => system.api('POST',
      `/mcp-servers/${server.id}/oauth-provider`, { key, body: {} });

    const first = await call();
    assertStatus(first, 200);
    const repeat = await call();
    assert.equal(repeat.json.oauth_provider_id,
      first.json.oauth_provider_id);
    assert.equal(postsBesidesProbe(await scripted.requests()).length, 1,
      'a secret that has not expired is reused');

    await new Promise((resolve) => {
      setTimeout(resolve, (lifetimeSeconds + 1) * 1000);
    });
    const renewed = await call();
    assertStatus(renewed, 200);
    assert.equal(renewed.json.oauth_provider_id, first.json.oauth_provider_id,
      'the oauth_provider_id stays stable across re-registration');
    assert.equal(postsBesidesProbe(await scripted.requests()).length, 2,
      'an expired secret is replaced by one new registration');
  } finally {
    await scripted.fake.close();
  }
});

test('registration redirect not followed', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: {
      status: 307, headers: [['Location', '{{origin}}/register-moved']],
    },
    '/register-moved': registered(),
  }));

  assertError(result.response, 400, 'registration_response_invalid');
  assert.equal(count(result.log, 'POST', '/register-moved'), 0,
    'a registration POST must not follow redirects');
  assert.equal(postsBesidesProbe(result.log).length, 1);
});

for (const [label, value] of [['empty', ''], ['null', null]]) {
  test(`registration_endpoint ${label} is absent`, async () => {
    const result = await runCase(wellBehaved({
      '/.well-known/oauth-authorization-server': json(
        serverMetadata('{{origin}}', {
          extra: { registration_endpoint: value },
          registrationEndpoint: null,
        })),
    }));

    assertError(result.response, 400, 'registration_not_supported');
    assertNothingRegistered(result);
  });
}

// Metadata counts as a document only when its media type is JSON, so a
// valid body served with another type is skipped like an HTML page. In
// each case the only other URL returns 404.
const NOT_JSON_TYPES = [
  ['text/plain', 'text/plain'],
  ['text/html with charset', 'text/html; charset=utf-8'],
  ['text/json', 'text/json'],
  ['no Content-Type', null],
];

for (const [label, contentType] of NOT_JSON_TYPES) {
  const typeInDetail = contentType ?? 'with no Content-Type';

  test(`resource metadata as ${label} is skipped`, async () => {
    const result = await runCase(wellBehaved({
      [`/.well-known/oauth-protected-resource${MCP_PATH}`]:
        typed(resourceMetadata(), contentType),
    }));

    assertError(result.response, 400, 'protected_resource_metadata_invalid');
    assert.ok(result.response.json.detail.includes(
      `returned HTTP 200 ${typeInDetail}, not a JSON media type`),
    result.response.json.detail);
    assertNothingRegistered(result);
    assert.equal(count(result.log, 'POST', REGISTER_PATH), 0);
  });

  test(`server metadata as ${label} is skipped`, async () => {
    const result = await runCase(wellBehaved({
      '/.well-known/oauth-authorization-server':
        typed(serverMetadata('{{origin}}'), contentType),
    }));

    assertError(result.response, 400,
      'authorization_server_metadata_unavailable');
    assert.ok(result.response.json.detail.includes(
      `returned HTTP 200 ${typeInDetail}, not a JSON media type`),
    result.response.json.detail);
    assert.equal(count(result.log, 'GET',
      '/.well-known/openid-configuration'), 1,
    'the next candidate URL is tried');
    assertNothingRegistered(result);
    assert.equal(count(result.log, 'POST', REGISTER_PATH), 0);
  });
}

test('JSON media types with parameters', async () => {
  const result = await runCase(wellBehaved({
    [`/.well-known/oauth-protected-resource${MCP_PATH}`]:
      typed(resourceMetadata(), 'Application/JSON;charset=UTF-8'),
    '/.well-known/oauth-authorization-server':
      typed(serverMetadata('{{origin}}'), 'application/vnd.example+json'),
    [REGISTER_PATH]: typed(registered().body,
      'application/json; charset=utf-8', 201),
  }));

  assertRegisteredOnce(result);
});

test('registration 201 as text/html fails', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: typed(registered().body, 'text/html', 201),
  }));

  assertError(result.response, 400, 'registration_response_invalid');
  assert.match(result.response.json.detail,
    /returned HTTP 201 text\/html, not a JSON media type/);
  assert.equal(postsBesidesProbe(result.log).length, 1,
    'a registration response of another type is not retried');
});
