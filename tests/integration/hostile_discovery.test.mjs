// Hostile MCP and authorization servers against the discovery worker. The
// attacks: SSRF toward the cloud metadata address, a redirect and a host
// name that lead to loopback addresses off the allow-list, a 50 MB body, a
// body that never ends, resource and issuer mismatches, and endpoints that
// are not https.
//
// The worker is restarted with --dev-allow-hosts 127.0.0.1 only, so
// 127.0.0.2 and "localhost" get the default policy. The last two suites
// restart it with one CIDR range only: 127.0.0.0/8, then 10.0.0.0/8. No
// URL here names an address in 10.0.0.0/8. Every refused target is either
// the cloud metadata address or a loopback server of this test that
// counts connections. The metadata address is named only over http, so
// the URL policy rejects it before curl gets the URL. A regression
// therefore shows as a counted connection and never as traffic leaving
// the host.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  after, before, describe, test,
} from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import { assertError, assertStatus } from '../lib/assertions.mjs';
import { createServer, oauthServerBody, uniqueSuffix } from '../lib/fixtures.mjs';
import { DISCOVERY, useSystem } from '../lib/harness.mjs';
import { LOOPBACK_HOST, pollUntil } from '../lib/process.mjs';
import {
  HUGE_BODY_BYTES, METADATA_ADDRESS, startHostileServers,
} from '../hostile/server.mjs';
import { restartDiscovery } from '../hostile/system.mjs';

// The worker's limits in this file: a short fetch timeout keeps the
// trickle test fast, and the response limit is the worker's default.
const FETCH_TIMEOUT_MS = 3000;
const MAX_RESPONSE_BYTES = 256 * 1024;
// Upper bound on one refused discovery: the connect and fetch timeouts
// plus process and RPC overhead. An estimate, far below the gateway's 30 s.
const REFUSAL_BOUND_MS = FETCH_TIMEOUT_MS + 5000;

let key;
let hostile;

const system = useSystem({
  label: 'hostile-discovery',
  setup: async () => {
    key = (await system.createKey({ user: `hostile-${uniqueSuffix()}` })).key;
    hostile = await startHostileServers();

    await restartDiscovery(system, key, {
      '--dev-allow-hosts': LOOPBACK_HOST,
      '--fetch-timeout-ms': FETCH_TIMEOUT_MS,
      '--max-response-bytes': MAX_RESPONSE_BYTES,
      '--log-level': 'debug',
    });
  },
});

after(async () => {
  if (hostile) await hostile.close();
});

// Registers an MCP server at `url`, calls oauth-provider once and returns
// the response.
async function discover(url) {
  const server = await createServer(system, key, oauthServerBody(url));
  return system.api('POST', `/mcp-servers/${server.id}/oauth-provider`, {
    key, body: {}, timeoutMs: 40000,
  });
}

// Returns the worker's disc.job.done lines that name `code`.
async function workerJobLines(code) {
  const item = system.processes.get(DISCOVERY);
  const text = (await readFile(item.stderrPath, 'utf8')) +
    (await readFile(item.stdoutPath, 'utf8'));
  return text.split('\n').filter((line) =>
    line.includes('disc.job.done') && line.includes(code));
}

// Asserts that the worker logged a failed job with `code` whose line
// contains each of `fragments`.
async function assertWorkerLogged(code, fragments) {
  const lines = await workerJobLines(code);
  assert.ok(lines.length > 0,
    `the worker logged no disc.job.done line with ${code}`);
  const matching = lines.filter((line) =>
    fragments.every((fragment) => line.includes(fragment)));
  assert.ok(matching.length > 0,
    `no disc.job.done line with ${code} contains ${fragments.join(', ')}: ` +
    lines.join('\n'));
}

// Asserts that 127.0.0.2 saw no connection since `before` connections.
function assertNoSinkConnection(before) {
  assert.equal(hostile.connections.sink, before,
    `the worker connected to 127.0.0.2: ${hostile.requests.join(', ')}`);
}

test('control: a well-behaved server gets a provider', async () => {
  const response = await discover(hostile.mcpUrl('ok'));
  assertStatus(response, 200);
  assert.equal(typeof response.json?.oauth_provider_id, 'string',
    describeResponse(response));
  assert.ok(hostile.stats.registrations >= 1);
});

test('metadata address as issuer refused', async () => {
  const response = await discover(hostile.mcpUrl('metadata-ip-issuer'));
  assertError(response, 400, 'remote_address_blocked');
  assert.match(response.json.detail, new RegExp(METADATA_ADDRESS));
  assert.match(response.json.detail, /uses http/);
  await assertWorkerLogged('remote_address_blocked', [METADATA_ADDRESS]);
});

test('metadata address in challenge skipped', async () => {
  const response = await discover(hostile.mcpUrl('metadata-ip-challenge'));
  assertError(response, 400, 'protected_resource_metadata_invalid');
  assert.match(response.json.detail, new RegExp(METADATA_ADDRESS));
  assert.match(response.json.detail, /--dev-allow-hosts/);
  await assertWorkerLogged('protected_resource_metadata_invalid',
    [METADATA_ADDRESS]);
});

test('http redirect to 127.0.0.2 refused', async () => {
  const sinkBefore = hostile.connections.sink;
  const response = await discover(hostile.mcpUrl('redirect-private'));
  assertError(response, 400, 'remote_address_blocked');
  assertNoSinkConnection(sinkBefore);
  assert.ok(hostile.requests.includes('GET /redirect-private/prm'),
    `the redirect was never served: ${hostile.requests.join(', ')}`);
  await assertWorkerLogged('remote_address_blocked',
    ['redirect-private/prm', 'redirect led to a URL that is not https']);
});

// https passes the scheme rule, so only the address check of the hop stops
// this one, before the socket to 127.0.0.2 exists.
test('https redirect to 127.0.0.2 refused', async () => {
  const sinkBefore = hostile.connections.sink;
  const response = await discover(hostile.mcpUrl('redirect-private-https'));
  assertError(response, 400, 'remote_address_blocked');
  assertNoSinkConnection(sinkBefore);
  assert.ok(hostile.requests.includes('GET /redirect-private-https/prm'),
    `the redirect was never served: ${hostile.requests.join(', ')}`);
  await assertWorkerLogged('remote_address_blocked',
    ['redirect-private-https/prm', 'not public']);
});

test('localhost off the allow-list refused', async () => {
  const before = { ...hostile.connections };
  const url = `https://localhost:${hostile.port}/localhost/mcp`;
  const response = await discover(url);
  assertError(response, 400, 'remote_address_blocked');
  assert.match(response.json.detail, /not public/);
  assert.equal(hostile.connections.main, before.main,
    'the worker connected to 127.0.0.1 for localhost');
  assert.equal(hostile.connections.v6, before.v6,
    'the worker connected to [::1] for localhost');
  await assertWorkerLogged('remote_address_blocked',
    ['"host":"localhost"', 'not public']);
});

for (const scenario of ['huge-body', 'huge-chunked']) {
  test(`50 MB metadata cut at the limit (${scenario})`, async () => {
    hostile.stats.hugeBodyFinished = false;
    const started = performance.now();
    const response = await discover(hostile.mcpUrl(scenario));
    const elapsedMs = performance.now() - started;
    assertError(response, 400, 'remote_response_too_large');
    assert.ok(elapsedMs < REFUSAL_BOUND_MS, `took ${elapsedMs} ms`);
    assert.equal(hostile.stats.hugeBodyFinished, false,
      'the worker read the whole 50 MB body');
    assert.ok(hostile.stats.hugeBytesWritten < HUGE_BODY_BYTES,
      `the server wrote ${hostile.stats.hugeBytesWritten} bytes`);
    await assertWorkerLogged('remote_response_too_large', [scenario]);
  });
}

test('endless body times out', async () => {
  const started = performance.now();
  const response = await discover(hostile.mcpUrl('trickle'));
  const elapsedMs = performance.now() - started;
  assertError(response, 503, 'remote_timed_out');
  assert.ok(elapsedMs >= FETCH_TIMEOUT_MS - 500, `took only ${elapsedMs} ms`);
  assert.ok(elapsedMs < REFUSAL_BOUND_MS, `took ${elapsedMs} ms`);
  assert.ok(hostile.stats.trickleBytes > 0, 'the trickle never started');
  await pollUntil(() => hostile.stats.trickleClosedAt ?? undefined, {
    what: 'the worker to close the trickling connection',
    timeoutMs: 2000,
  });
});

test('resource mismatch rejected', async () => {
  const response = await discover(hostile.mcpUrl('resource-mismatch'));
  assertError(response, 400, 'resource_mismatch');
  await assertWorkerLogged('resource_mismatch', []);
});

test('issuer mismatch rejected', async () => {
  const registrationsBefore = hostile.stats.registrations;
  const response = await discover(hostile.mcpUrl('issuer-mismatch'));
  assertError(response, 400, 'issuer_mismatch');
  assert.equal(hostile.stats.registrations, registrationsBefore,
    'the worker registered at a server whose issuer did not match');
});

test('registration redirect not followed', async () => {
  const sinkBefore = hostile.connections.sink;
  const response = await discover(hostile.mcpUrl('register-redirect'));
  assertError(response, 400, 'registration_response_invalid');
  assertNoSinkConnection(sinkBefore);
  assert.ok(hostile.requests.includes('POST /register-redirect/register'),
    `the registration endpoint was never called: ${hostile.requests}`);
});

test('http endpoints off the allow-list rejected', async () => {
  const sinkBefore = hostile.connections.sink;
  const response = await discover(hostile.mcpUrl('http-endpoint'));
  assertError(response, 400, 'remote_address_blocked');
  assert.match(response.json.detail, /127\.0\.0\.2/);
  assertNoSinkConnection(sinkBefore);
});

// The worker restarted with CIDR ranges only. These suites come last
// because each restarts the worker with another allow-list.
describe('allow-list of range 127.0.0.0/8 only', () => {
  before(async () => {
    await restartDiscovery(system, key, { '--dev-allow-hosts': '127.0.0.0/8' });
  });

  test('http to 127.0.0.1 in the range works', async () => {
    const registrationsBefore = hostile.stats.registrations;
    const response = await discover(hostile.mcpUrl('ok'));
    assertStatus(response, 200);
    assert.equal(typeof response.json?.oauth_provider_id, 'string',
      describeResponse(response));
    assert.equal(hostile.stats.registrations, registrationsBefore + 1,
      'the worker did not register over http at 127.0.0.1');
  });

  test('http to localhost refused unconnected', async () => {
    const before = { ...hostile.connections };
    const url = `http://localhost:${hostile.port}/localhost/mcp`;
    const response = await discover(url);
    assertError(response, 400, 'remote_address_blocked');
    assert.match(response.json.detail, /uses http/);
    assert.equal(hostile.connections.main, before.main,
      'the worker connected to 127.0.0.1 for http://localhost');
    assert.equal(hostile.connections.v6, before.v6,
      'the worker connected to [::1] for http://localhost');
  });

  // A name that resolves into the range may connect over https. The
  // hostile server speaks plain http, so the TLS handshake fails after
  // the connection, which the connection count shows.
  test('https to localhost connects', async () => {
    const before = hostile.connections.main + (hostile.connections.v6 ?? 0);
    const url = `https://localhost:${hostile.port}/localhost/mcp`;
    const response = await discover(url);
    assertError(response, 503, 'mcp_server_unreachable');
    const after = hostile.connections.main + (hostile.connections.v6 ?? 0);
    assert.ok(after > before, 'the worker never connected for localhost');
  });
});

// No URL here names an address in 10.0.0.0/8. The range only shows that
// an allow-list without loopback keeps loopback out.
describe('allow-list of range 10.0.0.0/8 only', () => {
  before(async () => {
    await restartDiscovery(system, key, { '--dev-allow-hosts': '10.0.0.0/8' });
  });

  for (const scheme of ['http', 'https']) {
    test(`${scheme} to 127.0.0.1 refused unconnected`, async () => {
      const before = hostile.connections.main;
      const url = hostile.mcpUrl('ok').replace(/^http:/, `${scheme}:`);
      const response = await discover(url);
      assertError(response, 400, 'remote_address_blocked');
      assert.match(response.json.detail,
        scheme === 'http' ? /uses http/ : /not public/);
      assert.equal(hostile.connections.main, before,
        `the worker connected to 127.0.0.1 over ${scheme}`);
    });
  }
});
