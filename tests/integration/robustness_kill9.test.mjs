// kill -9 loop: during a mixed workload of first and repeat calls, kill a
// seeded random process at a seeded random moment, restart it, and go on.
// Afterwards every id a client received is still returned, and the
// registrations at the authorization server exceed the distinct keys by
// no more than the orphan bound below.
//
// Orphan bound: a client registered by a job whose result is never
// stored. That happens only when mcpreg-discovery or mcpreg-registration
// dies while a job is in flight (the worker dies after registering, or the
// registration service dies before storing the worker's reply). So each
// such kill can leave at most one orphan per key that had a call in
// flight and no id yet at the moment of the kill. Killing the gateway
// leaves none: the registration service finishes and stores the job.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { assertStatus } from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import {
  providerPath, restartProcess, seededRandom, signalProcess, untilNot503,
} from '../lib/faults.mjs';
import {
  DISCOVERY, GATEWAY, REGISTRATION, useSystem,
} from '../lib/harness.mjs';

const SEED = 0x6b696c6c;
const ROUNDS = 9;
const USERS = 8;
const SERVERS = 3;
const CLIENTS = 6; // concurrent callers of the workload
const MAX_PAUSE_MS = 600;
// Each round kills a process this long after a burst of first calls, so
// that some kills land while discovery jobs are in flight. A job with the
// local peers takes about 10 to 100 ms.
const MAX_KILL_DELAY_MS = 60;
const MAX_DOWN_MS = 600;

const system = useSystem({ label: 'robust-kill9' });

// Makes USERS keys and SERVERS servers in one workspace; returns the
// (key, server) pairs, each a mapping key of the registration service.
async function makeTargets() {
  const first = await system.createKey({
    user: `kill9-0-${uniqueSuffix()}`, name: 'kill9-0',
  });
  const keys = [first.key];
  for (let i = 1; i < USERS; i += 1) {
    keys.push((await system.createKey({
      workspace: first.workspace_id, user: `kill9-${i}-${uniqueSuffix()}`,
      name: `kill9-${i}`,
    })).key);
  }
  const servers = [];
  for (let i = 0; i < SERVERS; i += 1) {
    servers.push(await createServer(system, first.key,
      oauthServerBody(mcpEndpoint(system))));
  }
  const targets = [];
  for (const server of servers) addTargets(targets, keys, server.id);
  return { keys, targets };
}

// Appends one target per key for serverId and returns the new ones.
function addTargets(targets, keys, serverId) {
  const added = [];
  for (const key of keys) {
    added.push({ key, serverId, label: targets.length + added.length });
  }
  targets.push(...added);
  return added;
}

// Creates one more server once the registration service responds, so that
// every round has first calls as well as repeat calls.
async function addServer(keys, targets) {
  const response = await untilNot503(() => system.api('POST', '/mcp-servers',
    { key: keys[0], body: oauthServerBody(mcpEndpoint(system)) }),
  { what: 'a new MCP server to be created' });
  assertStatus(response, 201);
  return addTargets(targets, keys, response.json.id);
}

test('kill -9 loop keeps every id', async (t) => {
  const random = seededRandom(SEED);
  const { keys, targets } = await makeTargets();
  const before = await system.registrations();

  const received = new Map(); // label -> Set of ids received
  const inFlight = new Map(); // label -> calls in flight
  let orphanBound = 0;
  let running = true;

  const callOnce = async (target) => {
    inFlight.set(target.label, (inFlight.get(target.label) ?? 0) + 1);
    try {
      const response = await system.api('POST', providerPath(target.serverId),
        { key: target.key, body: {}, timeoutMs: 40000 });
      if (response.status === 200) {
        if (!received.has(target.label)) received.set(target.label, new Set());
        received.get(target.label).add(response.json.oauth_provider_id);
      } else {
        assert.equal(response.status, 503,
          `only 200 and 503 are expected: ${response.text}`);
      }
    } catch {
      // The gateway was killed with this request in flight.
    } finally {
      inFlight.set(target.label, inFlight.get(target.label) - 1);
    }
  };

  // Each client picks seeded targets, so first and repeat calls mix.
  const clients = [];
  for (let c = 0; c < CLIENTS; c += 1) {
    clients.push((async () => {
      while (running) {
        await callOnce(targets[Math.floor(random() * targets.length)]);
        await sleep(Math.floor(random() * 50));
      }
    })());
  }

  const names = [REGISTRATION, DISCOVERY, GATEWAY];
  const kills = [];
  const bursts = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    await sleep(Math.floor(random() * MAX_PAUSE_MS));
    const added = await addServer(keys, targets);
    bursts.push(...added.map(callOnce));
    await sleep(Math.floor(random() * MAX_KILL_DELAY_MS));
    const name = names[Math.floor(random() * names.length)];
    if (name !== GATEWAY) {
      for (const target of targets) {
        const pending = (inFlight.get(target.label) ?? 0) > 0;
        if (pending && !received.has(target.label)) orphanBound += 1;
      }
    }
    const exit = await signalProcess(system, name, 'SIGKILL');
    assert.equal(exit.signal, 'SIGKILL', `${name} must die by SIGKILL`);
    kills.push(name);
    await sleep(Math.floor(random() * MAX_DOWN_MS));
    await restartProcess(system, name);
  }
  running = false;
  await Promise.all([...clients, ...bursts]);

  // Every target once more, retrying 503s until the worker has redialled.
  for (const target of targets) {
    const response = await untilNot503(() => system.api('POST',
      providerPath(target.serverId), { key: target.key, body: {} }),
    { what: `target ${target.label} to be served after the loop` });
    assertStatus(response, 200);
    const finalId = response.json.oauth_provider_id;
    for (const id of received.get(target.label) ?? []) {
      assert.equal(id, finalId,
        `target ${target.label}: an id a client received must still be ` +
        `returned (kills: ${kills.join(', ')})`);
    }
    if (!received.has(target.label)) received.set(target.label, new Set());
    received.get(target.label).add(finalId);
  }

  const ids = new Set([...received.values()].flatMap((set) => [...set]));
  assert.equal(ids.size, targets.length, 'each target must have its own id');

  const registrations = (await system.registrations()).count - before.count;
  t.diagnostic(`kills: ${kills.join(', ')}; ${targets.length} keys, ` +
    `${registrations} registrations, orphan bound ${orphanBound}`);
  assert.ok(registrations >= targets.length,
    `${registrations} registrations for ${targets.length} keys`);
  assert.ok(registrations - targets.length <= orphanBound,
    `${registrations - targets.length} orphan clients exceed the bound ` +
    `${orphanBound} (kills: ${kills.join(', ')})`);
});
