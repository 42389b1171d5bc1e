// RFC 7592 client deletion: when mcpreg deletes or replaces a provider
// mapping, or does not store the client that a discovery job registered,
// a discovery worker deletes the registered client at its authorization
// server, after the store write and without delaying the REST call. A
// deletion that fails is retried, also across restarts, until it
// succeeds. The authorization server is a scripted fake (tests/fake/).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { assertError, assertStatus } from '../lib/assertions.mjs';
import { createServer, oauthServerBody } from '../lib/fixtures.mjs';
import {
  providerPath, restartProcess, untilNot503,
} from '../lib/faults.mjs';
import { DISCOVERY, REGISTRATION, useSystem } from '../lib/harness.mjs';
import { pollUntil } from '../lib/process.mjs';
import {
  REGISTER_PATH, registered, startScriptedFake, wellBehaved,
} from '../fake/scenarios.mjs';

const DELETE_WAIT_MS = 10000;
// How long the fake delays its registration response, so that the test
// can change the MCP server while the discovery job waits for it.
const SLOW_REGISTRATION_MS = 1500;
// Retried deletions wait 0.5 to 1 s after the first failure, doubling
// from there, so a few rounds of retries fit in this time.
const RETRY_WAIT_MS = 30000;
// The worker's limit in the retry tests, below the registration
// service's default --max-deletions of 4.
const WORKER_MAX_JOBS = 2;

let key;
let serviceKey;

const system = useSystem({
  label: 'discovery-deletion',
  setup: async () => {
    const created = await system.createKey({ user: 'del-user', name: 'del' });
    key = created.key;
    serviceKey = (await system.createKey({
      workspace: created.workspace_id, name: 'del-service',
    })).key;
  },
});

// Starts a fake whose registration returns clientId with RFC 7592
// management members, and whose client URI returns deleteResponse.
async function startManagedFake(clientId, deleteResponse, changes = {}) {
  return startScriptedFake(wellBehaved({
    [REGISTER_PATH]: registered({ clientId }),
    [`${REGISTER_PATH}/${clientId}`]: deleteResponse,
    ...changes,
  }));
}

async function registerProvider(scripted) {
  const server = await createServer(system, key,
    oauthServerBody(scripted.mcpUrl));
  const response = await system.api('POST',
    `/mcp-servers/${server.id}/oauth-provider`, { key, body: {} });
  assertStatus(response, 200);
  return { server, providerId: response.json.oauth_provider_id };
}

// Returns a Map from each of paths to the DELETEs of it that the fake saw.
async function deletesOf(scripted, paths) {
  const log = await scripted.requests();
  const counts = new Map(paths.map((path) => [path, 0]));
  for (const item of log.requests) {
    if (item.method === 'DELETE' && counts.has(item.path)) {
      counts.set(item.path, counts.get(item.path) + 1);
    }
  }
  return counts;
}

// Starts a fake that registers `count` clients, each with its own
// client_id and RFC 7592 management members, and returns 204 to their
// DELETE. Returns { scripted, paths }, the client URI path of each.
async function startManyClientsFake(prefix, count) {
  const clientIds = Array.from({ length: count },
    (_, i) => `${prefix}-${i}`);
  const routes = {
    [REGISTER_PATH]: clientIds.map((clientId) => ({
      ...registered({ clientId }), times: 1,
    })),
  };
  for (const clientId of clientIds) {
    routes[`${REGISTER_PATH}/${clientId}`] = { status: 204 };
  }
  const scripted = await startScriptedFake(wellBehaved(routes));
  return {
    scripted,
    paths: clientIds.map((clientId) => `${REGISTER_PATH}/${clientId}`),
  };
}

// Creates a server for the fake and one provider mapping per user, with
// the service key. Returns the server.
async function registerUsers(scripted, users) {
  const server = await createServer(system, key,
    oauthServerBody(scripted.mcpUrl));
  for (const user of users) {
    const response = await untilNot503(() => system.api('POST',
      providerPath(server.id), { key: serviceKey, body: { ls_user_id: user } }),
    { what: `the provider of ${user}` });
    assertStatus(response, 200);
  }
  return server;
}

// Waits until the fake has seen at least one DELETE of every path.
async function waitForEveryDelete(scripted, paths) {
  return pollUntil(async () => {
    const counts = await deletesOf(scripted, paths);
    return [...counts.values()].every((n) => n > 0) ? counts : undefined;
  }, {
    what: `a DELETE of each of ${paths.length} clients at the fake`,
    timeoutMs: RETRY_WAIT_MS,
  });
}

// Waits until the fake has seen a DELETE of path and returns the requests.
async function waitForDelete(scripted, path) {
  return pollUntil(async () => {
    const log = await scripted.requests();
    const deletes = log.requests
      .filter((item) => item.method === 'DELETE' && item.path === path);
    return deletes.length > 0 ? deletes : undefined;
  }, { what: `a DELETE of ${path} at the fake`, timeoutMs: DELETE_WAIT_MS });
}

test('server delete deletes its client', async () => {
  const clientId = 'client-server-delete';
  const scripted = await startManagedFake(clientId, { status: 204 });
  try {
    const { server } = await registerProvider(scripted);

    const deleted = await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key });
    assertStatus(deleted, 204);

    const deletes = await waitForDelete(scripted,
      `${REGISTER_PATH}/${clientId}`);
    assert.equal(deletes.length, 1, 'one DELETE per client');
    assert.equal(deletes[0].authorization, `Bearer rat-${clientId}`,
      'the DELETE carries the registration access token');
  } finally {
    await scripted.fake.close();
  }
});

// Returns the registration service's log lines with msgId that name
// clientId.
async function registrationLines(msgId, clientId) {
  const text = await readFile(system.logs[REGISTRATION].stdout, 'utf8');
  return text.split('\n').filter((line) =>
    line.includes(`"msg_id":"${msgId}"`) && line.includes(clientId));
}

test('a 404 ends a deletion without claiming it', async () => {
  const goneId = 'client-delete-404';
  const deletedId = 'client-delete-204';
  const gone = await startManagedFake(goneId, { status: 404 });
  const done = await startManagedFake(deletedId, { status: 204 });
  try {
    for (const scripted of [gone, done]) {
      const { server } = await registerProvider(scripted);
      assertStatus(await system.api('DELETE', `/mcp-servers/${server.id}`,
        { key }), 204);
    }
    await waitForDelete(gone, `${REGISTER_PATH}/${goneId}`);
    await waitForDelete(done, `${REGISTER_PATH}/${deletedId}`);

    // Info lines reach the log within the services' flush interval.
    await pollUntil(async () =>
      (await registrationLines('reg.client.delete_gone', goneId)).length > 0 &&
      (await registrationLines('reg.client.deleted', deletedId)).length > 0
        ? true : undefined,
    { what: 'the log lines of both deletions', timeoutMs: 5000 });
    assert.deepEqual(await registrationLines('reg.client.deleted', goneId),
      [], 'a 404 is not logged as a deletion');
  } finally {
    await gone.fake.close();
    await done.fake.close();
  }
});

test('failed client deletion is retried', async () => {
  const clientId = 'client-delete-fails';
  const scripted = await startManagedFake(clientId,
    [{ status: 500, times: 1 }, { status: 204 }]);
  try {
    const { server } = await registerProvider(scripted);

    const deleted = await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key });
    assertStatus(deleted, 204);
    const again = await system.api('GET', `/mcp-servers/${server.id}`,
      { key });
    assertStatus(again, 404);

    const path = `${REGISTER_PATH}/${clientId}`;
    const deletes = await pollUntil(async () => {
      const found = await deletesOf(scripted, [path]);
      return found.get(path) >= 2 ? found : undefined;
    }, { what: `a second DELETE of ${path}`, timeoutMs: RETRY_WAIT_MS });
    await sleep(2500);
    const settled = await deletesOf(scripted, [path]);
    assert.equal(settled.get(path), deletes.get(path),
      'a deletion that succeeded is not sent again');
  } finally {
    await scripted.fake.close();
  }
});

test('401 deletion is not retried', async () => {
  const clientId = 'client-already-gone';
  const scripted = await startManagedFake(clientId, { status: 401 });
  try {
    const { server } = await registerProvider(scripted);
    assertStatus(await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key }), 204);

    const path = `${REGISTER_PATH}/${clientId}`;
    await waitForDelete(scripted, path);
    // Longer than the first retry delay of at most 1 s.
    await sleep(2500);
    assert.equal((await deletesOf(scripted, [path])).get(path), 1,
      'RFC 7592 answers 401 for a client the server does not have');
  } finally {
    await scripted.fake.close();
  }
});

test('client without management not deleted', async () => {
  const scripted = await startScriptedFake(wellBehaved());
  try {
    const { server } = await registerProvider(scripted);
    const deleted = await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key });
    assertStatus(deleted, 204);

    await new Promise((resolve) => { setTimeout(resolve, 500); });
    const log = await scripted.requests();
    assert.deepEqual(
      log.requests.filter((item) => item.method === 'DELETE'), [],
      'a client without registration_client_uri cannot be deleted');
  } finally {
    await scripted.fake.close();
  }
});

test('expired client replaced and deleted', async () => {
  const lifetimeSeconds = 2;
  const oldId = 'client-expiring';
  const scripted = await startScriptedFake(wellBehaved({
    [REGISTER_PATH]: [
      {
        ...registered({
          clientId: oldId,
          extra: {
            client_secret_expires_at:
              Math.floor(Date.now() / 1000) + lifetimeSeconds,
          },
        }),
        times: 1,
      },
      registered({ clientId: 'client-renewed' }),
    ],
    [`${REGISTER_PATH}/${oldId}`]: { status: 204 },
  }));
  try {
    const { server, providerId } = await registerProvider(scripted);
    await new Promise((resolve) => {
      setTimeout(resolve, (lifetimeSeconds + 1) * 1000);
    });

    const renewed = await system.api('POST',
      `/mcp-servers/${server.id}/oauth-provider`, { key, body: {} });
    assertStatus(renewed, 200);
    assert.equal(renewed.json.oauth_provider_id, providerId);
    const deletes = await waitForDelete(scripted,
      `${REGISTER_PATH}/${oldId}`);
    assert.equal(deletes[0].authorization, `Bearer rat-${oldId}`);
  } finally {
    await scripted.fake.close();
  }
});

test('deletions beyond worker max-jobs all sent', async () => {
  const stopped = await system.stopProcess(DISCOVERY);
  assert.equal(stopped.code, 0);
  await restartProcess(system, DISCOVERY,
    { flags: { '--max-jobs': WORKER_MAX_JOBS } });

  const count = 4 * WORKER_MAX_JOBS;
  const { scripted, paths } = await startManyClientsFake('max-jobs', count);
  try {
    const users = paths.map((_, i) => `max-jobs-user-${i}`);
    const server = await registerUsers(scripted, users);

    assertStatus(await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key }), 204);
    const counts = await waitForEveryDelete(scripted, paths);
    assert.equal(counts.size, count);
  } finally {
    await scripted.fake.close();
  }
});

test('deletions resume after restart', async () => {
  const count = 3;
  const { scripted, paths } = await startManyClientsFake('restart', count);
  try {
    const users = paths.map((_, i) => `restart-user-${i}`);
    const server = await registerUsers(scripted, users);

    // With no worker, every attempt fails at once and is retried.
    assert.equal((await system.stopProcess(DISCOVERY)).code, 0);
    assertStatus(await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key }), 204);
    await sleep(1500);
    assert.equal((await system.stopProcess(REGISTRATION)).code, 0,
      'the registration service stops cleanly with deletions pending');
    const before = await deletesOf(scripted, paths);
    assert.deepEqual([...before.values()], paths.map(() => 0),
      'no DELETE can be sent without a worker');

    await restartProcess(system, REGISTRATION);
    await restartProcess(system, DISCOVERY);
    await waitForEveryDelete(scripted, paths);
  } finally {
    await scripted.fake.close();
  }
});

// Starts the oauth-provider call of a server whose fake responds slowly to
// the registration of clientId, and runs change(server, fake) once the
// fake has received the registration request. Returns the call's response
// and the fake.
async function changeWhileRegistering(clientId, change) {
  const scripted = await startManagedFake(clientId, { status: 204 }, {
    [REGISTER_PATH]: { ...registered({ clientId }),
      delay_ms: SLOW_REGISTRATION_MS },
  });
  try {
    // An earlier test may have restarted the registration service, which
    // the gateway then dials again.
    const created = await untilNot503(() => system.api('POST',
      '/mcp-servers', { key, body: oauthServerBody(scripted.mcpUrl) }),
    { what: 'the creation of the MCP server' });
    assertStatus(created, 201);
    const server = created.json;
    const pending = system.api('POST', providerPath(server.id),
      { key, body: {} });
    await pollUntil(async () => {
      const log = await scripted.requests();
      return log.counts[`POST ${REGISTER_PATH}`] > 0 ? true : undefined;
    }, { what: 'the registration request at the fake', timeoutMs: 10000 });
    await change(server, scripted);
    return { response: await pending, scripted };
  } catch (error) {
    await scripted.fake.close();
    throw error;
  }
}

// Waits for the DELETE of clientId at the fake and checks that it came
// once, with the client's registration access token.
async function assertClientDeleted(scripted, clientId) {
  const deletes = await waitForDelete(scripted,
    `${REGISTER_PATH}/${clientId}`);
  assert.equal(deletes.length, 1, 'one DELETE per client');
  assert.equal(deletes[0].authorization, `Bearer rat-${clientId}`,
    'the DELETE carries the registration access token');
}

test('url change mid-job deletes new client', async () => {
  const clientId = 'client-url-changed';
  const { response, scripted } = await changeWhileRegistering(clientId,
    async (server, fake) => {
      const patched = await system.api('PATCH', `/mcp-servers/${server.id}`,
        { key, body: { url: `${fake.url}/moved/mcp` } });
      assertStatus(patched, 200);
    });
  try {
    assertError(response, 503, 'service_unavailable');
    await assertClientDeleted(scripted, clientId);
  } finally {
    await scripted.fake.close();
  }
});

test('server delete mid-job deletes new client', async () => {
  const clientId = 'client-server-gone';
  const { response, scripted } = await changeWhileRegistering(clientId,
    async (server) => {
      assertStatus(await system.api('DELETE', `/mcp-servers/${server.id}`,
        { key }), 204);
    });
  try {
    assertError(response, 404, 'mcp_server_not_found');
    await assertClientDeleted(scripted, clientId);
  } finally {
    await scripted.fake.close();
  }
});
