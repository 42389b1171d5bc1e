// How long the discovery worker reuses an MCP server's metadata for later
// users: as long as the Cache-Control max-age, Expires and Date of the
// metadata responses allow, the default without them, and never longer
// than --metadata-cache-max-s. Each test counts the metadata GETs at a
// scripted fake (tests/fake/) while users of one workspace register one
// after another. Each user's first oauth-provider call runs one job.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';

import { assertStatus } from '../lib/assertions.mjs';
import {
  createServer, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import { restartDiscovery } from '../hostile/system.mjs';
import {
  MCP_PATH, json, resourceMetadata, serverMetadata, startScriptedFake,
  wellBehaved, withHeaders,
} from '../fake/scenarios.mjs';

const PRM_PATH = `/.well-known/oauth-protected-resource${MCP_PATH}`;
const ASM_PATH = '/.well-known/oauth-authorization-server';

// The worker's --metadata-cache-max-s in the last test.
const SHORT_MAX_S = 2;

let ownerKey;
let workspaceId;

const system = useSystem({
  label: 'discovery-cache',
  setup: async () => {
    const created = await system.createKey({
      user: `cache-owner-${uniqueSuffix()}`, name: 'cache-owner',
    });
    ownerKey = created.key;
    workspaceId = created.workspace_id;
  },
});

// Returns the script of a well-behaved fake whose resource metadata and
// authorization server metadata responses carry the given header lines.
function scriptWithHeaders({ prm = [], asm = [] }) {
  return wellBehaved({
    [PRM_PATH]: withHeaders(json(resourceMetadata()), prm),
    [ASM_PATH]: withHeaders(json(serverMetadata('{{origin}}')), asm),
  });
}

// Returns API keys of `count` new users of the workspace. Keys are made
// before a test's timed calls, so that the CLI's time does not count.
async function newUserKeys(count) {
  const keys = [];
  for (let i = 0; i < count; i += 1) {
    const created = await system.createKey({
      workspace: workspaceId, user: `cache-user-${uniqueSuffix()}`,
    });
    keys.push(created.key);
  }
  return keys;
}

// Starts a fake with routes and creates an OAuth MCP server for it.
// Returns { scripted, server }. Close scripted.fake when done.
async function setUp(routes) {
  const scripted = await startScriptedFake(routes);
  const server = await createServer(system, ownerKey,
    oauthServerBody(scripted.mcpUrl));
  return { scripted, server };
}

// Registers the user of `key` for `server` and checks the 200.
async function register(server, key) {
  const response = await system.api('POST',
    `/mcp-servers/${server.id}/oauth-provider`, { key, body: {} });
  assertStatus(response, 200);
}

// Returns how often the fake served each metadata document and the
// registration endpoint.
async function fetchCounts(scripted) {
  const { counts } = await scripted.requests();
  return {
    prm: counts[`GET ${PRM_PATH}`] ?? 0,
    asm: counts[`GET ${ASM_PATH}`] ?? 0,
    registrations: counts['POST /register'] ?? 0,
  };
}

test('no caching headers: default reuse', async () => {
  const { scripted, server } = await setUp(scriptWithHeaders({}));
  try {
    const [first, second] = await newUserKeys(2);
    await register(server, first);
    // Longer than every lifetime the other tests set, far below 300 s.
    await sleep(2500);
    await register(server, second);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 1, asm: 1, registrations: 2 },
      'the second user must reuse the metadata within the default 300 s');
  } finally {
    await scripted.fake.close();
  }
});

test('max-age=1: refetched after 1.5 s', async () => {
  const { scripted, server } = await setUp(scriptWithHeaders({
    prm: [['Cache-Control', 'max-age=1']],
    asm: [['Cache-Control', 'public, max-age=1']],
  }));
  try {
    const [first, second] = await newUserKeys(2);
    await register(server, first);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 1, asm: 1, registrations: 1 });
    await sleep(1500);
    await register(server, second);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 2, asm: 2, registrations: 2 },
      'the metadata expired after 1 s, so the second user discovers again');
  } finally {
    await scripted.fake.close();
  }
});

// The entry lives as long as its shortest-lived response: no-store on the
// resource metadata wins over the authorization server's max-age.
test('no-store: every job refetches', async () => {
  const { scripted, server } = await setUp(scriptWithHeaders({
    prm: [['Cache-Control', 'no-store']],
    asm: [['Cache-Control', 'max-age=3600']],
  }));
  try {
    const keys = await newUserKeys(3);
    for (const key of keys) await register(server, key);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 3, asm: 3, registrations: 3 });
  } finally {
    await scripted.fake.close();
  }
});

// Jobs that arrive while a discovery is in flight wait for it and use its
// result, even when its responses forbid storing it for later jobs.
test('no-store: concurrent jobs share one', async () => {
  const { scripted, server } = await setUp(wellBehaved({
    [PRM_PATH]: withHeaders(
      { ...json(resourceMetadata()), delay_ms: 1000 },
      [['Cache-Control', 'no-store']]),
  }));
  try {
    const keys = await newUserKeys(3);
    await Promise.all(keys.map((key) => register(server, key)));
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 1, asm: 1, registrations: 3 });
  } finally {
    await scripted.fake.close();
  }
});

// RFC 9111 section 5.3: an invalid Expires such as "0" is in the past.
test('Expires: 0 is already expired', async () => {
  const { scripted, server } = await setUp(scriptWithHeaders({
    asm: [['Expires', '0']],
  }));
  try {
    const [first, second] = await newUserKeys(2);
    await register(server, first);
    await register(server, second);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 2, asm: 2, registrations: 2 });
  } finally {
    await scripted.fake.close();
  }
});

// Expires minus Date gives the lifetime when there is no max-age.
test('Expires one hour after Date: reused', async () => {
  const date = new Date();
  const expires = new Date(date.getTime() + 3600 * 1000);
  const { scripted, server } = await setUp(scriptWithHeaders({
    asm: [['Date', date.toUTCString()], ['Expires', expires.toUTCString()]],
  }));
  try {
    const [first, second] = await newUserKeys(2);
    await register(server, first);
    await register(server, second);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 1, asm: 1, registrations: 2 });
  } finally {
    await scripted.fake.close();
  }
});

// Runs last, because it restarts the worker with a short maximum.
test('worker maximum caps max-age=3600', async () => {
  await restartDiscovery(system, ownerKey,
    { '--metadata-cache-max-s': SHORT_MAX_S });
  const { scripted, server } = await setUp(scriptWithHeaders({
    prm: [['Cache-Control', 'max-age=3600']],
    asm: [['Cache-Control', 'max-age=3600']],
  }));
  try {
    const [first, second, third] = await newUserKeys(3);
    await register(server, first);
    await register(server, second);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 1, asm: 1, registrations: 2 },
      `within --metadata-cache-max-s ${SHORT_MAX_S} the metadata is reused`);
    await sleep(SHORT_MAX_S * 1000 + 500);
    await register(server, third);
    assert.deepEqual(await fetchCounts(scripted),
      { prm: 2, asm: 2, registrations: 3 },
      `after --metadata-cache-max-s ${SHORT_MAX_S} the third user ` +
      'discovers again despite max-age=3600');
  } finally {
    await scripted.fake.close();
  }
});
