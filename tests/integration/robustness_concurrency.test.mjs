// Single flight under load: many simultaneous first calls for one
// workspace, user and server register one client, through two gateways;
// calls for other keys do not wait behind a slow discovery.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { callApi, describeResponse } from '../lib/api.mjs';
import {
  assertError, assertStatus, assertUuid,
} from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import {
  providerPath, seededRandom, startExtraGateway, startTarpit,
} from '../lib/faults.mjs';
import { useSystem } from '../lib/harness.mjs';

const SEED = 0x5eed0001;
const CONCURRENT_CALLS = 200;
const USERS_IN_PARALLEL = 12;

// Bound on a registration with the local peers while another job waits
// on a tarpit. An estimate: one takes about 100 ms on an idle 2-core
// machine, and CI shares its cores.
const FAST_REGISTRATION_MS = 8000;

// Time given to a call to reach the registration service before the job
// it should join ends.
const JOIN_WAIT_MS = 500;

// --register-timeout-ms of the gateway whose callers give up early.
const SHORT_DEADLINE_MS = 1500;

let secondGateway;
let workspaceId;

const system = useSystem({
  label: 'robust-conc',
  setup: async () => {
    secondGateway = await startExtraGateway(system, callApi);
    const probe = await system.createKey({ user: 'setup', name: 'setup' });
    workspaceId = probe.workspace_id;
  },
});

after(async () => {
  if (secondGateway) await secondGateway.process.stop();
});

// Returns a personal key of a new user in the test workspace.
async function newUserKey(label) {
  const user = `${label}-${uniqueSuffix()}`;
  const created = await system.createKey({
    workspace: workspaceId, user, name: label,
  });
  return created.key;
}

test('200 first calls via two gateways: one client', async () => {
  const key = await newUserKey('crowd');
  const server = await createServer(system, key,
    oauthServerBody(mcpEndpoint(system)));
  const before = await system.registrations();
  const random = seededRandom(SEED);

  // Interleave the gateways in a seeded order, so both start calls while
  // the job is in flight.
  const calls = [];
  for (let i = 0; i < CONCURRENT_CALLS; i += 1) {
    const api = random() < 0.5 ? system.api : secondGateway.api;
    calls.push(api('POST', providerPath(server.id),
      { key, body: {}, timeoutMs: 60000 }));
  }
  const responses = await Promise.all(calls);

  const ids = new Set();
  for (const response of responses) {
    assertStatus(response, 200);
    assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
    ids.add(response.json.oauth_provider_id);
  }
  assert.equal(ids.size, 1, `every call must return one id, got ${[...ids]}`);

  const afterCalls = await system.registrations();
  assert.equal(afterCalls.count - before.count, 1,
    'the authorization server must see exactly one registration');

  const repeat = await secondGateway.api('POST', providerPath(server.id),
    { key, body: {} });
  assertStatus(repeat, 200);
  assert.equal(repeat.json.oauth_provider_id, [...ids][0]);
});

test('users in parallel: one client each', async () => {
  const keys = [];
  for (let i = 0; i < USERS_IN_PARALLEL; i += 1) {
    keys.push(await newUserKey(`user${i}`));
  }
  const server = await createServer(system, keys[0],
    oauthServerBody(mcpEndpoint(system)));
  const before = await system.registrations();

  // Three calls per user, all at once, half through each gateway.
  const calls = [];
  for (const [index, key] of keys.entries()) {
    for (let copy = 0; copy < 3; copy += 1) {
      const api = (index + copy) % 2 === 0 ? system.api : secondGateway.api;
      calls.push(api('POST', providerPath(server.id),
        { key, body: {}, timeoutMs: 60000 }).then((response) => ({
        key, response,
      })));
    }
  }
  const results = await Promise.all(calls);

  const idsByKey = new Map();
  for (const { key, response } of results) {
    assertStatus(response, 200);
    if (!idsByKey.has(key)) idsByKey.set(key, new Set());
    idsByKey.get(key).add(response.json.oauth_provider_id);
  }
  for (const ids of idsByKey.values()) {
    assert.equal(ids.size, 1, 'one user must get one id');
  }
  const distinct = new Set([...idsByKey.values()].map((ids) => [...ids][0]));
  assert.equal(distinct.size, USERS_IN_PARALLEL, 'users must get own ids');
  const afterCalls = await system.registrations();
  assert.equal(afterCalls.count - before.count, USERS_IN_PARALLEL);
});

test('slow discovery does not block others', async () => {
  const tarpit = await startTarpit();
  try {
    const slowKey = await newUserKey('slow');
    const fastKey = await newUserKey('fast');
    const slowServer = await createServer(system, slowKey,
      oauthServerBody(tarpit.url));
    const fastServer = await createServer(system, fastKey,
      oauthServerBody(mcpEndpoint(system)));

    let slowSettled = false;
    const slow = system.api('POST', providerPath(slowServer.id), {
      key: slowKey, body: {}, timeoutMs: 60000,
    }).finally(() => {
      slowSettled = true;
    });
    await tarpit.waitForConnection(1);

    const fast = await secondGateway.api('POST', providerPath(fastServer.id),
      { key: fastKey, body: {}, timeoutMs: FAST_REGISTRATION_MS + 5000 });
    assertStatus(fast, 200);
    assert.ok(fast.elapsedMs < FAST_REGISTRATION_MS,
      `the fast key took ${Math.round(fast.elapsedMs)} ms`);
    assert.equal(slowSettled, false,
      'the slow call must still wait on the tarpit; the check proves nothing ' +
      'otherwise');

    // The same slow key through the other gateway joins the job in flight
    // instead of opening a second connection to the tarpit.
    const joined = secondGateway.api('POST', providerPath(slowServer.id), {
      key: slowKey, body: {}, timeoutMs: 60000,
    });
    await sleep(JOIN_WAIT_MS);
    await tarpit.close();
    const [slowResponse, joinedResponse] = await Promise.all([slow, joined]);
    assert.equal(slowResponse.status, 503, describeResponse(slowResponse));
    assert.equal(joinedResponse.status, 503,
      describeResponse(joinedResponse));
    assert.equal(tarpit.accepted, 1,
      'one discovery job must have contacted the slow server');
  } finally {
    await tarpit.close().catch(() => {});
  }
});

test('joined caller keeps its own deadline', async () => {
  const tarpit = await startTarpit();
  const hastyGateway = await startExtraGateway(system, callApi, {
    flags: { '--register-timeout-ms': SHORT_DEADLINE_MS },
  });
  try {
    const key = await newUserKey('deadline');
    const server = await createServer(system, key,
      oauthServerBody(tarpit.url));

    // The hasty caller leads the job; the patient one joins it.
    const hasty = hastyGateway.api('POST', providerPath(server.id),
      { key, body: {}, timeoutMs: 60000 });
    await tarpit.waitForConnection(1);
    const patientStarted = performance.now();
    const patient = system.api('POST', providerPath(server.id),
      { key, body: {}, timeoutMs: 60000 });

    const hastyResponse = await hasty;
    assertError(hastyResponse, 503, 'timed_out');
    await sleep(SHORT_DEADLINE_MS);
    const closedAt = performance.now();
    await tarpit.close();

    const patientResponse = await patient;
    assert.notEqual(patientResponse.json?.code, 'timed_out',
      `the joined caller must not fail at the leader's deadline: ` +
      describeResponse(patientResponse));
    assertError(patientResponse, 503, 'mcp_server_unreachable');
    assert.ok(closedAt - patientStarted > SHORT_DEADLINE_MS,
      'the patient call must have outlived the hasty deadline');
    assert.equal(tarpit.accepted, 1, 'both calls must share one job');
  } finally {
    await tarpit.close().catch(() => {});
    await hastyGateway.process.stop();
  }
});
