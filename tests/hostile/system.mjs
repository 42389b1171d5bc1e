// Changes to a running test system for the security tests: the discovery
// worker restarted with other flags, and a second gateway with strict
// limits. Built on tests/lib/process.mjs only, so that these tests do not
// depend on the fault-injection helpers of other test files.
import { callApi } from '../lib/api.mjs';
import { DISCOVERY, GATEWAY } from '../lib/harness.mjs';
import {
  LOOPBACK_HOST, LoggedProcess, childEnvironment, findFreePort, pollUntil,
  probeTcpPort,
} from '../lib/process.mjs';

const STOP_TIMEOUT_MS = 5000;
const READY_TIMEOUT_MS = 20000;

// Returns a copy of args with each flag of `flags` set to its value,
// replaced when present and appended when not.
function withFlags(args, flags) {
  const result = [...args];
  for (const [flag, value] of Object.entries(flags)) {
    const index = result.indexOf(flag);
    if (index >= 0) {
      result[index + 1] = String(value);
    } else {
      result.push(flag, String(value));
    }
  }
  return result;
}

// Stops the discovery worker and starts it again with `flags` changed, as
// NAME.hostile in the logs folder. The new process replaces the old one in
// system.processes, so system.stop() checks its exit status. Then waits
// until the worker takes jobs: an oauth-provider call for an MCP server on
// a closed loopback port stops returning 503 service_unavailable.
export async function restartDiscovery(system, key, flags) {
  const old = system.processes.get(DISCOVERY);
  const status = await old.stop(STOP_TIMEOUT_MS);
  if (status.killed || status.code !== 0) {
    throw new Error(`${DISCOVERY} did not stop cleanly: ` +
      `${JSON.stringify(status)}; ${old.logHint()}`);
  }
  const item = new LoggedProcess(`${DISCOVERY}.hostile`, old.command,
    withFlags(old.args, flags),
    { logDir: system.logDir, env: childEnvironment(), cwd: system.dir });
  system.processes.set(DISCOVERY, item);

  const closedPort = await findFreePort();
  const created = await system.api('POST', '/mcp-servers', {
    key,
    body: {
      name: `hostile-probe-${closedPort}`,
      url: `http://${LOOPBACK_HOST}:${closedPort}/mcp`,
      auth_type: 'oauth',
      oauth_mode: 'per_user_dynamic_client',
    },
  });
  if (created.status !== 201) {
    throw new Error(`creating the worker probe returned ${created.status}`);
  }
  await pollUntil(async () => {
    const response = await system.api('POST',
      `/mcp-servers/${created.json.id}/oauth-provider`, { key, body: {} });
    const unavailable = response.status === 503 &&
      response.json?.code === 'service_unavailable';
    return unavailable ? undefined : response;
  }, {
    what: `${DISCOVERY} to take jobs after its restart`,
    timeoutMs: READY_TIMEOUT_MS,
    watched: [item],
  });
  return item;
}

// Starts a second gateway on a free port with the first one's flags
// changed by `flags`. Returns { url, port, process, api(method, path,
// options) }. system.stop() does not know it; stop it with process.stop().
export async function startStrictGateway(system, flags) {
  const first = system.processes.get(GATEWAY);
  const port = await findFreePort();
  const args = withFlags(first.args,
    { ...flags, '--listen': `${LOOPBACK_HOST}:${port}` });
  const item = new LoggedProcess(`${GATEWAY}-strict`, first.command, args,
    { logDir: system.logDir, env: childEnvironment(), cwd: system.dir });
  await pollUntil(() => probeTcpPort(port), {
    what: `the strict ${GATEWAY} to accept connections on port ${port}`,
    timeoutMs: READY_TIMEOUT_MS,
    watched: [item],
  });
  const url = `http://${LOOPBACK_HOST}:${port}`;
  return {
    url,
    port,
    process: item,
    api: (method, path, options) => callApi(url, method, path, options),
  };
}
