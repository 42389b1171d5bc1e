// RFC 7592 client deletion: when mcpreg deletes or replaces a provider
// mapping, a discovery worker deletes the registered client at its
// authorization server, after the store write and without delaying the
// REST call. The authorization server is a scripted fake (tests/fake/).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertStatus } from '../lib/assertions.mjs';
import { createServer, oauthServerBody } from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import { pollUntil } from '../lib/process.mjs';
import {
  REGISTER_PATH, registered, startScriptedFake, wellBehaved,
} from '../fake/scenarios.mjs';

const DELETE_WAIT_MS = 10000;

let key;

const system = useSystem({
  label: 'discovery-deletion',
  setup: async () => {
    key = (await system.createKey({ user: 'del-user', name: 'del' })).key;
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

test('failed client deletion is logged only', async () => {
  const clientId = 'client-delete-fails';
  const scripted = await startManagedFake(clientId, { status: 500 });
  try {
    const { server } = await registerProvider(scripted);

    const deleted = await system.api('DELETE', `/mcp-servers/${server.id}`,
      { key });
    assertStatus(deleted, 204);
    await waitForDelete(scripted, `${REGISTER_PATH}/${clientId}`);

    const again = await system.api('GET', `/mcp-servers/${server.id}`,
      { key });
    assertStatus(again, 404);
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
