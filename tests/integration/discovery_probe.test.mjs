// Discovery against MCP servers whose probe or metadata responses are odd
// but seen in the field. The cases: a probe redirected to a trailing
// slash, a server that never requires authorization, large error pages,
// redirect loops, rate limits, and a peer that does not speak HTTP. Each
// test scripts a fake (tests/fake/) and checks the outcome and every
// request the fake saw.
import assert from 'node:assert/strict';
import { createServer as createTcpServer } from 'node:net';
import { test } from 'node:test';

import { assertError, assertStatus, assertUuid } from '../lib/assertions.mjs';
import { createServer, oauthServerBody } from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import { LOOPBACK_HOST } from '../lib/process.mjs';
import { scriptFake } from '../fake/fake-server.mjs';
import {
  MCP_PATH, REGISTER_PATH, json, registered, resourceMetadata,
  serverMetadata, startScriptedFake, unauthorized, wellBehaved, withHeaders,
} from '../fake/scenarios.mjs';

const PRM_PATH = `/.well-known/oauth-protected-resource${MCP_PATH}`;
const BIG_PAGE = 'x'.repeat(300 * 1024); // over the worker's 256 KiB limit

let key;

const system = useSystem({
  label: 'discovery-probe',
  setup: async () => {
    key = (await system.createKey({ user: 'probe-user', name: 'probe' })).key;
  },
});

// Calls oauth-provider for a new OAuth MCP server at mcpUrl.
async function register(mcpUrl) {
  const server = await createServer(system, key, oauthServerBody(mcpUrl));
  return system.api('POST', `/mcp-servers/${server.id}/oauth-provider`,
    { key, body: {} });
}

// Runs one case against a fake scripted with routes. Returns { response,
// log }, where log is the fake's request log after the call.
async function runCase(routes, mcpPath = MCP_PATH) {
  const scripted = await startScriptedFake(routes);
  try {
    const response = await register(`${scripted.url}${mcpPath}`);
    return { response, log: await scripted.requests() };
  } finally {
    await scripted.fake.close();
  }
}

function count(log, method, path) {
  return log.counts[`${method} ${path}`] ?? 0;
}

// MCP servers built on Starlette respond to POST /mcp with 307 to /mcp/. MCP
// clients follow it, as fetch does, and so does the probe: the 401 behind
// it names the metadata.
for (const status of [307, 308]) {
  test(`probe follows ${status} to its 401`, async () => {
    const result = await runCase(wellBehaved({
      [MCP_PATH]: {
        status, headers: [['Location', `{{origin}}${MCP_PATH}/`]],
      },
      [`${MCP_PATH}/`]: unauthorized(
        `Bearer resource_metadata="{{origin}}${PRM_PATH}"`),
    }));

    assertStatus(result.response, 200);
    assertUuid(result.response.json.oauth_provider_id, 'oauth_provider_id');
    assert.equal(count(result.log, 'POST', `${MCP_PATH}/`), 1,
      JSON.stringify(result.log.counts));
    assert.equal(count(result.log, 'POST', REGISTER_PATH), 1);
  });
}

// The probe needs only the 401's status and headers, so a declared body
// that never comes does not hold it until the fetch timeout.
test('probe 401 with withheld body is enough', async () => {
  const result = await runCase(wellBehaved({
    [MCP_PATH]: {
      ...unauthorized(`Bearer resource_metadata="{{origin}}${PRM_PATH}"`),
      body: 'x'.repeat(1000),
      withhold_body: true,
    },
  }));

  assertStatus(result.response, 200);
  assert.equal(count(result.log, 'POST', REGISTER_PATH), 1);
});

// The 2025-03-26 default endpoints are for a server that requires
// authorization. One that responds to the probe with 200 or 405 and has no
// metadata gets no client registered at a guessed /register.
for (const status of [200, 405]) {
  test(`probe ${status} without metadata registers nothing`, async () => {
    const result = await runCase({
      [MCP_PATH]: { status, body: '{}' },
      [REGISTER_PATH]: json({ error: 'username is required' }, 400),
    });

    assertError(result.response, 400, 'protected_resource_metadata_invalid');
    assert.match(result.response.json.detail, new RegExp(
      `the probe returned HTTP ${status}, not 401`));
    assert.equal(count(result.log, 'POST', REGISTER_PATH), 0,
      JSON.stringify(result.log.counts));
    assert.equal(count(result.log, 'GET',
      '/.well-known/oauth-authorization-server'), 0);
  });
}

// A 404 whose page is larger than the worker would read fails only its
// URL: the next one is still tried.
test('large error page moves on', async () => {
  const result = await runCase(wellBehaved({
    [MCP_PATH]: unauthorized('Bearer realm="mcp"'),
    [PRM_PATH]: { status: 404, body: BIG_PAGE },
    '/.well-known/oauth-protected-resource': json(resourceMetadata()),
  }));

  assertStatus(result.response, 200);
  assert.equal(count(result.log, 'GET', PRM_PATH), 1);
  assert.equal(count(result.log, 'GET',
    '/.well-known/oauth-protected-resource'), 1);
});

// A redirect loop fails its URL only, since a retry would meet it again.
test('metadata redirect loop moves on', async () => {
  const result = await runCase(wellBehaved({
    [MCP_PATH]: unauthorized('Bearer resource_metadata="{{origin}}/loop"'),
    '/loop': { status: 302, headers: [['Location', '{{origin}}/loop']] },
  }));

  assertStatus(result.response, 200);
  assert.ok(count(result.log, 'GET', '/loop') >= 2,
    JSON.stringify(result.log.counts));
  assert.equal(count(result.log, 'GET', PRM_PATH), 1);
});

// A probe caught in a redirect loop is treated as a probe without a 401,
// because the well-known metadata may still name the authorization server.
// Without it the failure is permanent (400), with no guessed /register.
test('probe redirect loop tries well-known metadata', async () => {
  const loop = { status: 307, headers: [['Location', `{{origin}}${MCP_PATH}`]] };

  const found = await runCase(wellBehaved({ [MCP_PATH]: loop }));
  assertStatus(found.response, 200);
  assert.equal(count(found.log, 'GET', PRM_PATH), 1);
  assert.equal(count(found.log, 'POST', REGISTER_PATH), 1);

  const missing = await runCase({ [MCP_PATH]: loop });
  assertError(missing.response, 400, 'protected_resource_metadata_invalid');
  assert.match(missing.response.json.detail, /redirected more than 3 times/);
  assert.equal(count(missing.log, 'POST', REGISTER_PATH), 0);
});

// 429 is transient (RFC 6585 section 4): the caller may retry, so it gets
// 503 with Retry-After, not a permanent 400.
test('429 at metadata or registration is transient', async () => {
  const cases = [
    { [PRM_PATH]: json({ error: 'slow down' }, 429) },
    { [REGISTER_PATH]: json({ error: 'slow down' }, 429) },
  ];
  for (const changes of cases) {
    const result = await runCase(wellBehaved(changes));
    assertError(result.response, 503, 'remote_unavailable');
    assert.ok(result.response.headers.get('retry-after'),
      'a 503 carries Retry-After');
    assert.match(result.response.json.detail, /HTTP 429/);
  }
});

// A busy server's own Retry-After reaches the caller, in seconds or as an
// HTTP date (RFC 9110 section 10.2.3), capped at an hour. A value that is
// neither gets mcpreg's default of 1 s.
test('remote Retry-After reaches the caller', async () => {
  const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString();
  const cases = [
    { path: PRM_PATH, status: 429, header: '7', min: 7, max: 7 },
    { path: REGISTER_PATH, status: 503, header: '42', min: 42, max: 42 },
    { path: REGISTER_PATH, status: 429, header: inTwoMinutes, min: 100,
      max: 121 },
    { path: PRM_PATH, status: 503, header: '86400', min: 3600, max: 3600 },
    { path: PRM_PATH, status: 503, header: 'soon', min: 1, max: 1 },
    { path: PRM_PATH, status: 429, header: '5x', min: 1, max: 1 },
    { path: REGISTER_PATH, status: 429, header: '99999999999999999999',
      min: 3600, max: 3600 },
  ];
  for (const c of cases) {
    const busy = withHeaders(json({ error: 'slow down' }, c.status),
      [['Retry-After', c.header]]);
    const result = await runCase(wellBehaved({ [c.path]: busy }));
    const label = `${c.status} at ${c.path}, Retry-After: ${c.header}`;

    assertError(result.response, 503, 'remote_unavailable');
    const got = Number(result.response.headers.get('retry-after'));
    assert.ok(got >= c.min, `${label}: got ${got}`);
    assert.ok(got <= c.max, `${label}: got ${got}`);
  }
});

// Only the final response of a redirect chain counts: a hop's Retry-After
// is not passed on, and the detail names the URL that failed.
test('redirect hop Retry-After is not passed on', async () => {
  const result = await runCase(wellBehaved({
    [PRM_PATH]: {
      status: 302,
      headers: [['Location', '{{origin}}/busy'], ['Retry-After', '999']],
    },
    '/busy': json({ error: 'busy' }, 503),
  }));

  assertError(result.response, 503, 'remote_unavailable');
  assert.equal(result.response.headers.get('retry-after'), '1');
  assert.match(result.response.json.detail, /redirected to \S+\/busy/);
});

// Starts a TCP peer on loopback that responds to any request with a line
// that is not HTTP, and returns { url, close() }.
async function startNonHttpPeer() {
  const peer = createTcpServer((socket) => {
    socket.on('data', () => socket.end('hello\r\n'));
  });
  await new Promise((resolve) => peer.listen(0, LOOPBACK_HOST, resolve));
  return {
    url: `http://${LOOPBACK_HOST}:${peer.address().port}`,
    close: () => new Promise((resolve) => peer.close(resolve)),
  };
}

// A peer that responds without an HTTP status line is unreachable as an
// MCP server, not a blocked address, whether it is the MCP URL or the
// target of its redirect.
test('non-HTTP peer is unreachable, not blocked', async () => {
  const peer = await startNonHttpPeer();
  try {
    const direct = await register(`${peer.url}/mcp`);
    assertError(direct, 503, 'mcp_server_unreachable');
    assert.doesNotMatch(direct.json.detail, /allow-list|redirect/);

    const redirected = await runCase({
      [MCP_PATH]: { status: 307, headers: [['Location', `${peer.url}/mcp`]] },
    });
    assertError(redirected.response, 503, 'mcp_server_unreachable');
    assert.doesNotMatch(redirected.response.json.detail, /allow-list/);
  } finally {
    await peer.close();
  }
});

// A 401 from another origin, reached by the probe's redirect, does not
// show that this origin requires authorization, so its 2025-03-26
// defaults are not guessed either. Its challenge is ignored, so that
// another host cannot choose the metadata, and with it the authorization
// server that gets the user's client.
test('401 of another origin allows no fallback', async () => {
  const victim = await startScriptedFake({});
  const other = await startScriptedFake({});
  try {
    // The other host's metadata names the victim's MCP URL as its
    // resource, so only the origin check can reject it.
    await scriptFake(other.url, {
      [MCP_PATH]: unauthorized(
        `Bearer resource_metadata="${other.url}/prm-other", scope="other"`),
      '/prm-other': json(resourceMetadata({ resource: victim.mcpUrl })),
      '/.well-known/oauth-authorization-server':
        json(serverMetadata('{{origin}}')),
      [REGISTER_PATH]: registered(),
    });
    await scriptFake(victim.url, {
      [MCP_PATH]: {
        status: 307, headers: [['Location', `${other.url}${MCP_PATH}`]],
      },
      [REGISTER_PATH]: registered(),
    });

    const response = await register(victim.mcpUrl);
    assertError(response, 400, 'protected_resource_metadata_invalid');
    assert.match(response.json.detail, /another origin/);
    const log = await victim.requests();
    assert.equal(count(log, 'POST', REGISTER_PATH), 0,
      JSON.stringify(log.counts));
    const otherLog = await other.requests();
    assert.equal(count(otherLog, 'GET', '/prm-other'), 0,
      JSON.stringify(otherLog.counts));
    assert.equal(count(otherLog, 'POST', REGISTER_PATH), 0);
  } finally {
    await victim.fake.close();
    await other.fake.close();
  }
});

// Neither a redirect's large body nor a 404 whose body never comes stops
// discovery: the URL after them is tried.
test('slow or large bodies of skipped URLs move on', async () => {
  const cases = [
    {
      [MCP_PATH]: unauthorized('Bearer resource_metadata="{{origin}}/moved"'),
      '/moved': {
        status: 302, headers: [['Location', `{{origin}}${PRM_PATH}`]],
        body: BIG_PAGE,
      },
    },
    {
      [MCP_PATH]: unauthorized('Bearer realm="mcp"'),
      [PRM_PATH]: { status: 404, body: 'gone', withhold_body: true },
      '/.well-known/oauth-protected-resource': json(resourceMetadata()),
    },
  ];
  for (const changes of cases) {
    const result = await runCase(wellBehaved(changes));
    assertStatus(result.response, 200);
    assert.equal(count(result.log, 'POST', REGISTER_PATH), 1);
  }
});

// RFC 7591 members that are null count as absent, redirect_uris included.
test('redirect_uris null is accepted', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: registered({ redirectUris: null }),
  }));

  assertStatus(result.response, 200);
});

// RFC 7591 section 3.2.1 lets the server replace the metadata it was
// sent. A client whose redirect_uris lack mcpreg's callback could never
// complete an authorization, so it is not stored.
test('registration without our redirect URI fails', async () => {
  const result = await runCase(wellBehaved({
    [REGISTER_PATH]: registered({
      redirectUris: ['https://elsewhere.example/callback'],
    }),
  }));

  assertError(result.response, 400, 'registration_response_invalid');
  assert.match(result.response.json.detail, /redirect_uris/);
});

// mcpreg uses the authorization code flow, which RFC 8414's
// response_types_supported must then list.
test('metadata without the code response type fails', async () => {
  const result = await runCase(wellBehaved({
    '/.well-known/oauth-authorization-server': json(serverMetadata(
      '{{origin}}', { extra: { response_types_supported: ['token'] } })),
  }));

  assertError(result.response, 400,
    'authorization_server_metadata_unavailable');
  assert.match(result.response.json.detail, /response_types_supported/);
  assert.equal(count(result.log, 'POST', REGISTER_PATH), 0);
});
