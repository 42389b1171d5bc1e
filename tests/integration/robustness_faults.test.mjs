// One fault at a time against the real processes: SIGTERM and restart of
// each process, kill -9 of each process with a discovery job in flight, a
// frozen registration service, back-pressure and an unopenable store.
//
// A job is held in flight by an MCP server URL on a tarpit, a loopback
// port that accepts connections and never replies.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { describeResponse } from '../lib/api.mjs';
import {
  assertError, assertRetryAfter, assertStatus, assertUuid,
} from '../lib/assertions.mjs';
import {
  createServer, mcpEndpoint, oauthServerBody, uniqueSuffix,
} from '../lib/fixtures.mjs';
import {
  exchangeOnOneConnection, flagValue, providerPath, restartProcess,
  signalProcess, startExtraProcess, startTarpit, untilNot503,
} from '../lib/faults.mjs';
import {
  DISCOVERY, GATEWAY, REGISTRATION, useSystem,
} from '../lib/harness.mjs';
import {
  childEnvironment, findFreePort, pollUntil,
} from '../lib/process.mjs';

// Bound on the 503 that callers of a job get after a process of the job
// dies. An estimate: the RPC layer fails such calls when the connection
// closes, which takes milliseconds; CI shares its cores.
const FAILED_JOB_BOUND_MS = 3000;

// Bound on the exit after SIGTERM: every process's grace period is 5 s or
// less (the defaults), plus one second for the last replies.
const SIGTERM_EXIT_BOUND_MS = 6500;

// The gateway's deadlines in the frozen-service test, and the slack
// allowed on top of them.
const SHORT_DEADLINE_MS = 1500;
const DEADLINE_SLACK_MS = 1500;

// --timeout-ms of the CLI's ping in the frozen-service test. The CLI
// waits one more second for a handshake that comes late.
const PING_TIMEOUT_MS = 500;

// Bound on a 503 that needs no waiting (back-pressure, a stopped peer).
const AT_ONCE_MS = 1000;

// Time given to nng to resend a job after a worker restart, which must
// not happen.
const RESEND_WAIT_MS = 1000;

// --shutdown-grace-ms of the gateway and the registration service in the
// shutdown test. The worker's grace period is fixed at 3 s.
const SHORT_GRACE_MS = 1000;

// Bound on the exit after SIGTERM with work in flight: the grace period,
// one more second that each process gives its last replies, and slack.
const GRACE_EXIT_SLACK_MS = 2500;
const WORKER_GRACE_MS = 3000;

// Time given to a second worker to dial the registration service.
const DIAL_WAIT_MS = 1000;

let workspaceId;
let known; // { key, serverId, providerId }: a mapping made before faults

const system = useSystem({
  label: 'robust-faults',
  setup: async () => {
    const created = await system.createKey({ user: 'known', name: 'known' });
    workspaceId = created.workspace_id;
    const server = await createServer(system, created.key,
      oauthServerBody(mcpEndpoint(system)));
    const response = await system.api('POST', providerPath(server.id),
      { key: created.key, body: {} });
    assertStatus(response, 200);
    known = {
      key: created.key,
      serverId: server.id,
      providerId: response.json.oauth_provider_id,
    };
  },
});

async function newUserKey(label) {
  const created = await system.createKey({
    workspace: workspaceId, user: `${label}-${uniqueSuffix()}`, name: label,
  });
  return created.key;
}

function callProvider(key, serverId, options = {}) {
  return system.api('POST', providerPath(serverId),
    { key, body: {}, timeoutMs: 60000, ...options });
}

// Asserts that the mapping made in setup is still returned.
async function assertKnownMapping() {
  const response = await untilNot503(
    () => callProvider(known.key, known.serverId),
    { what: 'the known mapping to be served again' });
  assertStatus(response, 200);
  assert.equal(response.json.oauth_provider_id, known.providerId,
    'the id a client received must still be returned');
}

// Creates an MCP server, retrying 503s while a restarted registration
// service waits for the gateway to redial it.
async function createServerWhenUp(key, body) {
  const response = await untilNot503(
    () => system.api('POST', '/mcp-servers', { key, body }),
    { what: 'an MCP server to be created' });
  assertStatus(response, 201);
  return response.json;
}

// Asserts that a new user's first call registers one client.
async function assertFirstCallWorks(label) {
  const key = await newUserKey(label);
  const server = await createServerWhenUp(key,
    oauthServerBody(mcpEndpoint(system)));
  const before = await system.registrations();
  const response = await untilNot503(() => callProvider(key, server.id),
    { what: `a first call after ${label} to succeed` });
  assertStatus(response, 200);
  assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
  const after = await system.registrations();
  assert.equal(after.count - before.count, 1);
}

// Waits until the registration service logs that a worker connected,
// which a restarted service needs before it can start jobs.
async function workerConnected() {
  const serviceLog = system.processes.get(REGISTRATION).stdoutPath;
  await pollUntil(async () =>
    (await readFile(serviceLog, 'utf8')).includes('"reg.jobs.worker_connected"')
      ? true : undefined, {
    what: 'a worker to connect to the registration service',
    timeoutMs: 5000,
  });
}

// Starts `copies` calls for one new user whose server URL is the tarpit,
// and waits until the job has connected to it. Returns { key, server,
// calls }, where calls resolve to responses with the time they settled.
async function startHeldJob(tarpit, copies, label) {
  const key = await newUserKey(label);
  const server = await createServerWhenUp(key, oauthServerBody(tarpit.url));
  const accepted = tarpit.accepted;
  const calls = [];
  for (let i = 0; i < copies; i += 1) {
    calls.push(callProvider(key, server.id).then(
      (response) => ({ response, settledAt: performance.now() }),
      (error) => ({ error, settledAt: performance.now() })));
  }
  await tarpit.waitForConnection(accepted + 1);
  return { key, server, calls };
}

function pidOf(name) {
  return system.processes.get(name).child.pid;
}

test('SIGTERM exits 0; restart needs no other', async (t) => {
  for (const name of [REGISTRATION, DISCOVERY, GATEWAY]) {
    await t.test(name, async () => {
      const others = [REGISTRATION, DISCOVERY, GATEWAY]
        .filter((other) => other !== name);
      const otherPids = others.map(pidOf);

      const exit = await signalProcess(system, name, 'SIGTERM');
      assert.equal(exit.code, 0, `${name} must exit 0 on SIGTERM`);
      assert.equal(exit.signal, null);
      assert.ok(exit.elapsedMs < SIGTERM_EXIT_BOUND_MS,
        `${name} exited after ${Math.round(exit.elapsedMs)} ms`);

      if (name === REGISTRATION) {
        const gap = await callProvider(known.key, known.serverId);
        assertError(gap, 503, 'service_unavailable');
        assertRetryAfter(gap);
        assert.ok(gap.elapsedMs < AT_ONCE_MS,
          `the gap's 503 took ${Math.round(gap.elapsedMs)} ms`);

        // An orchestrator stops routing to a gateway that cannot serve.
        const notReady = await system.api('GET', '/readyz',
          { absolutePath: true });
        assertError(notReady, 503, 'service_unavailable');
        assertStatus(await system.api('GET', '/healthz',
          { absolutePath: true }), 200);
      }
      if (name === DISCOVERY) {
        const key = await newUserKey('gap');
        const server = await createServer(system, key,
          oauthServerBody(mcpEndpoint(system)));
        const gap = await callProvider(key, server.id);
        assertError(gap, 503, 'service_unavailable');
        assertRetryAfter(gap);
      }

      await restartProcess(system, name);
      await assertKnownMapping();
      assertStatus(await system.api('GET', '/readyz', { absolutePath: true }),
        200);
      await assertFirstCallWorks(`after-${name}`);
      assert.deepEqual(others.map(pidOf), otherPids,
        'the other processes must not have been restarted');
    });
  }
});

test('SIGTERM with jobs in flight exits 0', async (t) => {
  const cases = [
    [REGISTRATION, { '--shutdown-grace-ms': SHORT_GRACE_MS }, SHORT_GRACE_MS,
      ['shutting_down']],
    [GATEWAY, { '--shutdown-grace-ms': SHORT_GRACE_MS }, SHORT_GRACE_MS,
      ['shutting_down']],
    // The worker fails its jobs with shutting_down, unless its connection
    // closes first.
    [DISCOVERY, {}, WORKER_GRACE_MS, ['shutting_down', 'service_unavailable']],
  ];
  for (const [name, flags, graceMs, codes] of cases) {
    await t.test(name, async () => {
      const tarpit = await startTarpit();
      try {
        await signalProcess(system, name, 'SIGTERM');
        await restartProcess(system, name, { flags });
        await assertFirstCallWorks(`before-stop-${name}`);

        const held = await startHeldJob(tarpit, 2, `stop-${name}`);
        const exit = await signalProcess(system, name, 'SIGTERM');
        assert.equal(exit.code, 0, `${name} must exit 0 on SIGTERM`);
        assert.equal(exit.signal, null);
        assert.ok(exit.elapsedMs < graceMs + GRACE_EXIT_SLACK_MS,
          `${name} exited after ${Math.round(exit.elapsedMs)} ms`);

        for (const { response, error } of await Promise.all(held.calls)) {
          assert.ifError(error);
          assertStatus(response, 503);
          assertRetryAfter(response);
          assert.ok(codes.includes(response.json?.code),
            `expected ${codes.join(' or ')}: ${describeResponse(response)}`);
        }
      } finally {
        await tarpit.close().catch(() => {});
        if (!system.processes.get(name).running) {
          await restartProcess(system, name);
        }
      }
      await assertKnownMapping();
    });
  }
});

// A registration service stops while its jobs wait for a frozen
// authorization server. Once that server resumes, the worker finds the
// service gone and registers no client, since none would be stored.
test('stop before registering leaves no orphan', async () => {
  const jobs = 3;
  const frozen = 'auth-server';

  // A restarted worker has no metadata cached, so its jobs fetch the
  // authorization server's metadata before registering.
  await signalProcess(system, DISCOVERY, 'SIGTERM');
  await restartProcess(system, DISCOVERY);
  await signalProcess(system, REGISTRATION, 'SIGTERM');
  await restartProcess(system, REGISTRATION,
    { flags: { '--shutdown-grace-ms': SHORT_GRACE_MS } });
  await workerConnected();
  await assertKnownMapping();
  const keys = await Promise.all(
    Array.from({ length: jobs }, () => newUserKey('orphan')));
  const before = await system.registrations();
  const workerLog = system.processes.get(DISCOVERY).stdoutPath;

  let calls = [];
  await signalProcess(system, frozen, 'SIGSTOP');
  try {
    calls = keys.map((key) => callProvider(key, known.serverId)
      .catch((error) => ({ error })));
    await sleep(DIAL_WAIT_MS);
    const exit = await signalProcess(system, REGISTRATION, 'SIGTERM');
    assert.equal(exit.code, 0, 'the registration service must exit 0');
  } finally {
    await signalProcess(system, frozen, 'SIGCONT');
  }
  for (const response of await Promise.all(calls)) {
    assert.ifError(response.error);
    assertStatus(response, 503);
  }

  // The restarted worker's log holds only these jobs. Each ends at the
  // registration step once the server resumes.
  const ended = await pollUntil(async () => {
    const lines = (await readFile(workerLog, 'utf8')).split('\n')
      .filter((line) => line.includes('"disc.job.done"'));
    return lines.length >= jobs ? lines : undefined;
  }, { what: 'the worker to end the jobs of the stopped service',
    timeoutMs: 10000 });
  const after = await system.registrations();
  assert.equal(after.count, before.count,
    'no client may be registered for a service that has stopped');
  for (const line of ended) {
    assert.match(line, /caller disconnected before the client/);
  }

  await restartProcess(system, REGISTRATION);
  await workerConnected();
  await assertKnownMapping();
});

test('killed worker job is not moved', async () => {
  const tarpit = await startTarpit();
  let second;
  try {
    const held = await startHeldJob(tarpit, 2, 'two-workers');
    second = await startExtraProcess(system, DISCOVERY);
    await sleep(DIAL_WAIT_MS);

    // nng hands jobs to the connected workers in turn, so one of two first
    // calls reaches the second worker, which proves that it is connected.
    await assertFirstCallWorks('two-workers-a');
    await assertFirstCallWorks('two-workers-b');
    // Info lines reach the log within the services' flush interval.
    await pollUntil(async () =>
      (await readFile(second.stdoutPath, 'utf8')).includes('"disc.job.done"')
        ? true : undefined, {
      what: 'the second worker to log a job before the kill',
      timeoutMs: 2000,
    });

    const killedAt = performance.now();
    await signalProcess(system, DISCOVERY, 'SIGKILL');
    for (const { response, error, settledAt } of await Promise.all(
      held.calls)) {
      assert.ifError(error);
      assertError(response, 503, 'service_unavailable');
      assert.ok(settledAt - killedAt < FAILED_JOB_BOUND_MS,
        `a caller got its 503 ${Math.round(settledAt - killedAt)} ms after ` +
        'the kill');
    }

    // The second worker takes new jobs, but not the killed worker's job.
    await assertFirstCallWorks('second-worker');
    await sleep(RESEND_WAIT_MS);
    assert.equal(tarpit.accepted, 1,
      'the job of the killed worker must not move to the other worker');
  } finally {
    await tarpit.close().catch(() => {});
    if (second) {
      const exit = await second.stop();
      assert.equal(exit.code, 0, 'the second worker must exit 0');
    }
    if (!system.processes.get(DISCOVERY).running) {
      await restartProcess(system, DISCOVERY);
    }
  }
});

test('worker killed mid-job: 503, then afresh', async () => {
  const tarpit = await startTarpit();
  try {
    const held = await startHeldJob(tarpit, 3, 'worker-kill');
    const killedAt = performance.now();
    const exit = await signalProcess(system, DISCOVERY, 'SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');

    for (const { response, error, settledAt } of await Promise.all(
      held.calls)) {
      assert.ifError(error);
      assertStatus(response, 503);
      assertRetryAfter(response);
      assert.ok(settledAt - killedAt < FAILED_JOB_BOUND_MS,
        `a caller got its 503 ${Math.round(settledAt - killedAt)} ms after ` +
        'the kill');
    }

    // A job resent to the new worker would reach the tarpit again.
    const acceptedBefore = tarpit.accepted;
    await restartProcess(system, DISCOVERY);
    await assertFirstCallWorks('after-worker-kill');
    await sleep(RESEND_WAIT_MS);
    assert.equal(tarpit.accepted, acceptedBefore,
      'the job of the killed worker must not be sent again');
    await tarpit.close();

    const patched = await system.api('PATCH', `/mcp-servers/${held.server.id}`,
      { key: held.key, body: { url: mcpEndpoint(system) } });
    assertStatus(patched, 200);
    const before = await system.registrations();
    const response = await untilNot503(
      () => callProvider(held.key, held.server.id),
      { what: 'the next call for the key to start afresh' });
    assertStatus(response, 200);
    assertUuid(response.json.oauth_provider_id, 'oauth_provider_id');
    assert.equal((await system.registrations()).count - before.count, 1);
  } finally {
    await tarpit.close().catch(() => {});
    if (!system.processes.get(DISCOVERY).running) {
      await restartProcess(system, DISCOVERY);
    }
  }
});

test('registration killed mid-job: 503, recovers', async () => {
  const tarpit = await startTarpit();
  try {
    const workerPid = pidOf(DISCOVERY);
    const gatewayPid = pidOf(GATEWAY);
    const held = await startHeldJob(tarpit, 3, 'registration-kill');
    const killedAt = performance.now();
    const exit = await signalProcess(system, REGISTRATION, 'SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');

    // Calls sent right after the exit, while the gateway may not have
    // noticed the closed connection yet, must not wait for a restart.
    // NOTE: that window lasts milliseconds, so a regression shows here only
    // in some runs (it did under ctest -j2 load).
    const rightAfter = await Promise.all(Array.from({ length: 5 },
      () => callProvider(known.key, known.serverId)));
    for (const response of rightAfter) {
      assertError(response, 503, 'service_unavailable');
      assert.ok(response.elapsedMs < FAILED_JOB_BOUND_MS,
        `a call right after the kill took ${Math.round(response.elapsedMs)} ms`);
    }

    for (const { response, error, settledAt } of await Promise.all(
      held.calls)) {
      assert.ifError(error);
      assertError(response, 503, 'service_unavailable');
      assertRetryAfter(response);
      assert.ok(settledAt - killedAt < FAILED_JOB_BOUND_MS,
        `a caller got its 503 ${Math.round(settledAt - killedAt)} ms after ` +
        'the kill');
    }

    const gap = await callProvider(known.key, known.serverId);
    assertError(gap, 503, 'service_unavailable');
    assert.ok(gap.elapsedMs < AT_ONCE_MS,
      `the gap's 503 took ${Math.round(gap.elapsedMs)} ms`);

    await tarpit.close();
    await restartProcess(system, REGISTRATION);
    await assertKnownMapping();
    await assertFirstCallWorks('after-registration-kill');
    assert.equal(pidOf(DISCOVERY), workerPid);
    assert.equal(pidOf(GATEWAY), gatewayPid);
  } finally {
    await tarpit.close().catch(() => {});
    if (!system.processes.get(REGISTRATION).running) {
      await restartProcess(system, REGISTRATION);
    }
  }
});

test('gateway killed with requests in flight', async () => {
  const tarpit = await startTarpit();
  try {
    const registrationPid = pidOf(REGISTRATION);
    const workerPid = pidOf(DISCOVERY);
    const held = await startHeldJob(tarpit, 3, 'gateway-kill');
    const exit = await signalProcess(system, GATEWAY, 'SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    for (const { response, error } of await Promise.all(held.calls)) {
      assert.equal(response, undefined,
        'a request in flight cannot get a response from a killed gateway');
      assert.ok(error, 'the request must fail');
    }

    await tarpit.close();
    await restartProcess(system, GATEWAY);
    await assertKnownMapping();
    await assertFirstCallWorks('after-gateway-kill');
    assert.equal(pidOf(REGISTRATION), registrationPid);
    assert.equal(pidOf(DISCOVERY), workerPid);
  } finally {
    await tarpit.close().catch(() => {});
    if (!system.processes.get(GATEWAY).running) {
      await restartProcess(system, GATEWAY);
    }
  }
});

test('max-jobs 1: new call 503, repeat served', async () => {
  const tarpit = await startTarpit();
  try {
    await signalProcess(system, REGISTRATION, 'SIGTERM');
    await restartProcess(system, REGISTRATION, { flags: { '--max-jobs': 1 } });
    await assertKnownMapping();
    await assertFirstCallWorks('bp-worker-back');

    const held = await startHeldJob(tarpit, 1, 'bp-held');
    const key = await newUserKey('bp-new');
    const server = await createServer(system, key,
      oauthServerBody(mcpEndpoint(system)));
    const rejected = await callProvider(key, server.id);
    assertError(rejected, 503, 'too_many_registrations');
    assertRetryAfter(rejected);
    assert.ok(rejected.elapsedMs < AT_ONCE_MS,
      `the 503 took ${Math.round(rejected.elapsedMs)} ms`);

    const repeat = await callProvider(known.key, known.serverId);
    assertStatus(repeat, 200);
    assert.equal(repeat.json.oauth_provider_id, known.providerId);
    assert.ok(repeat.elapsedMs < AT_ONCE_MS,
      `the repeat call took ${Math.round(repeat.elapsedMs)} ms`);

    await tarpit.close();
    const [{ response }] = await Promise.all(held.calls);
    assertStatus(response, 503);

    const retried = await untilNot503(() => callProvider(key, server.id),
      { what: 'the rejected call to succeed once the slot is free' });
    assertStatus(retried, 200);
  } finally {
    await tarpit.close().catch(() => {});
    if (!system.processes.get(REGISTRATION).running) {
      await restartProcess(system, REGISTRATION);
    }
  }
});

test('frozen registration: 503 within deadline', async () => {
  await signalProcess(system, GATEWAY, 'SIGTERM');
  await restartProcess(system, GATEWAY, {
    flags: {
      '--register-timeout-ms': SHORT_DEADLINE_MS,
      '--request-timeout-ms': SHORT_DEADLINE_MS,
    },
  });
  await assertKnownMapping();

  await signalProcess(system, REGISTRATION, 'SIGSTOP');
  try {
    const register = await callProvider(known.key, known.serverId);
    assertError(register, 503, 'timed_out');
    assertRetryAfter(register);
    assert.ok(register.elapsedMs < SHORT_DEADLINE_MS + DEADLINE_SLACK_MS,
      `oauth-provider answered after ${Math.round(register.elapsedMs)} ms`);

    const list = await system.api('GET', '/mcp-servers', { key: known.key });
    assertError(list, 503, 'timed_out');
    assertRetryAfter(list);
    assert.ok(list.elapsedMs < SHORT_DEADLINE_MS + DEADLINE_SLACK_MS,
      `GET /mcp-servers answered after ${Math.round(list.elapsedMs)} ms`);

    // A frozen service is connected but replies to nothing, so the gateway
    // is not ready. The probe's own Ping deadline is under a second.
    const ready = await system.api('GET', '/readyz', { absolutePath: true });
    assertError(ready, 503, 'timed_out');
    assert.ok(ready.elapsedMs < 1000 + DEADLINE_SLACK_MS,
      `/readyz answered after ${Math.round(ready.elapsedMs)} ms`);

    // So is the registration service itself, to the CLI's ping that the
    // Kubernetes exec probe runs: it fails with timed_out once the
    // handshake is in and no reply follows within --timeout-ms.
    const pingStart = performance.now();
    const frozenPing = await system.cli.run(
      ['--timeout-ms', String(PING_TIMEOUT_MS), 'ping']);
    const pingMs = performance.now() - pingStart;
    assert.equal(frozenPing.code, 1, frozenPing.stderr);
    assert.equal(frozenPing.stdout, '');
    assert.match(frozenPing.stderr, /\(timed_out\)/);
    assert.ok(pingMs < PING_TIMEOUT_MS + 1000 + DEADLINE_SLACK_MS,
      `ping failed after ${Math.round(pingMs)} ms`);

    // After a 503 timed_out the connection takes the next request.
    const port = Number(flagValue(system.processes.get(GATEWAY).args,
      '--listen').split(':').pop());
    const headers = { 'X-Api-Key': known.key };
    const exchanged = await exchangeOnOneConnection(port, [
      { method: 'POST', path: `/v1/deepagents${providerPath(known.serverId)}`,
        headers },
      { method: 'GET', path: '/v1/deepagents/mcp-servers', headers },
    ]);
    for (const response of exchanged) {
      assert.equal(response.status, 503, response.body);
      assert.ok(response.headers['retry-after'], 'Retry-After is missing');
      assert.equal(JSON.parse(response.body).code, 'timed_out');
    }
  } finally {
    await signalProcess(system, REGISTRATION, 'SIGCONT');
  }
  await assertKnownMapping();
  assert.deepEqual(await system.cli(['ping']), { ok: true });
});

// A registration service whose caller left while it was frozen replies to
// requests on a closed connection. nng 1.5.2's socket close then waits for
// a blocked reaper thread, and in a run by hand never finished. The exit
// is bounded by the 3 s given to the first close and 100 ms to the other.
const CLOSE_STUCK_BOUND_MS = 3000 + 100 + 2500;

// Opens a TCP connection to port on loopback and closes it. Resolves with
// 'connected', or with the error's code.
function tryConnect(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error) => resolve(error.code));
  });
}

test('SIGTERM after its caller left exits 0', async (t) => {
  const calls = [];

  await signalProcess(system, REGISTRATION, 'SIGSTOP');
  try {
    for (let i = 0; i < 20; i++) {
      calls.push(system.api('GET', '/mcp-servers', { key: known.key })
        .catch((error) => error));
    }
    await sleep(500);
    const port = Number(flagValue(system.processes.get(GATEWAY).args,
      '--listen').split(':').pop());
    const stopping = signalProcess(system, GATEWAY, 'SIGTERM');
    await sleep(300);

    // While the gateway drains, a new connection is refused at once
    // instead of waiting in the kernel's queue until the exit.
    const started = performance.now();
    const outcome = await tryConnect(port);
    assert.equal(outcome, 'ECONNREFUSED');
    assert.ok(performance.now() - started < AT_ONCE_MS);

    const gateway = await stopping;
    assert.equal(gateway.code, 0, 'the gateway must exit 0 on SIGTERM');
  } finally {
    await signalProcess(system, REGISTRATION, 'SIGCONT');
  }
  await Promise.all(calls);
  await sleep(1000);

  const exit = await signalProcess(system, REGISTRATION, 'SIGTERM');
  t.diagnostic(`registration exited ${Math.round(exit.elapsedMs)} ms after SIGTERM`);
  assert.equal(exit.code, 0, 'the registration service must exit 0');
  assert.equal(exit.signal, null);
  assert.ok(exit.elapsedMs < CLOSE_STUCK_BOUND_MS,
    `the registration service exited after ${Math.round(exit.elapsedMs)} ms`);

  await restartProcess(system, REGISTRATION);
  await restartProcess(system, GATEWAY);
  await assertKnownMapping();
});

// Sends text on a new connection to port, waits for more() to give the
// rest, sends it, and resolves with everything read until the close.
function sendInTwoParts(port, head, more) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => { received += chunk; });
    socket.once('error', reject);
    socket.once('close', () => resolve(received));
    socket.once('connect', async () => {
      socket.write(head);
      socket.end(await more());
    });
  });
}

// A request whose request line is in when SIGTERM comes, and whose other
// headers follow, is counted among the requests in progress. The drain
// waits for it, and it gets 503 shutting_down instead of a closed
// connection.
test('SIGTERM while headers arrive: 503', async () => {
  const port = Number(flagValue(system.processes.get(GATEWAY).args,
    '--listen').split(':').pop());
  let stopping;
  const response = await sendInTwoParts(port,
    'GET /v1/deepagents/mcp-servers HTTP/1.1\r\nHost: 127.0.0.1\r\n',
    async () => {
      await sleep(200);
      stopping = signalProcess(system, GATEWAY, 'SIGTERM');
      await sleep(300);
      return `X-Api-Key: ${known.key}\r\n\r\n`;
    });

  const [head, body] = response.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 503 /, response);
  assert.match(head, /\r\nConnection: close\r\n/i, response);
  assert.match(head, /\r\nRetry-After: \d+\r\n/i, response);
  assert.equal(JSON.parse(body).code, 'shutting_down', response);

  const exit = await stopping;
  assert.equal(exit.code, 0, 'the gateway must exit 0 on SIGTERM');
  await restartProcess(system, GATEWAY);
  await assertKnownMapping();
});

test('unopenable data folder exits non-zero', async (t) => {
  const registration = system.processes.get(REGISTRATION);
  const run = (dataDir) => new Promise((resolve) => {
    Promise.all([findFreePort(), findFreePort()]).then(([rpc, jobs]) => {
      execFile(registration.command, [
        '--listen', `tcp://127.0.0.1:${rpc}`,
        '--jobs-listen', `tcp://127.0.0.1:${jobs}`,
        '--data', dataDir, '--demo',
      ], { env: childEnvironment(), timeout: 15000 },
      (error, stdout, stderr) => {
        resolve({ code: error?.code ?? 0, output: stdout + stderr });
      });
    });
  });

  await t.test('a file in place of the folder', async () => {
    const path = join(system.dir, `not-a-folder-${uniqueSuffix()}`);
    await writeFile(path, 'a file, not a folder\n');
    const { code, output } = await run(path);
    assert.notEqual(code, 0, `it must fail: ${output}`);
    assert.ok(output.includes(path), `the output must name ${path}: ${output}`);
    assert.match(output, /RocksDB/, `the output must name RocksDB: ${output}`);
    assert.match(output, /IO error|Not a directory|Invalid argument/,
      `the output must carry RocksDB's error: ${output}`);
  });

  await t.test('a folder in use by another service', async () => {
    const dataDir = flagValue(registration.args, '--data');
    const { code, output } = await run(dataDir);
    assert.notEqual(code, 0, `it must fail: ${output}`);
    assert.ok(output.includes(dataDir),
      `the output must name ${dataDir}: ${output}`);
    assert.match(output, /lock/i, `the output must carry the lock error: ` +
      output);
  });

  assert.ok(registration.running, `${REGISTRATION} must still run`);
  const repeat = await callProvider(known.key, known.serverId);
  assertStatus(repeat, 200);
  assert.equal(repeat.json.oauth_provider_id, known.providerId,
    describeResponse(repeat));
});
