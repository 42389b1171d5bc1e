// Starts the two test peers (authorization server and MCP server) as child
// processes on free loopback ports.
import { fileURLToPath } from 'node:url';

import { LoggedProcess, childEnvironment } from './process.mjs';

export const TESTS_DIR = fileURLToPath(new URL('..', import.meta.url));
const AUTH_SERVER_SCRIPT =
  fileURLToPath(new URL('../peers/auth-server.mjs', import.meta.url));
const MCP_SERVER_SCRIPT =
  fileURLToPath(new URL('../peers/mcp-server.mjs', import.meta.url));
const READY_TIMEOUT_MS = 15000;

// Starts the authorization server, then the MCP server that trusts it.
// Returns { authServer, mcpServer, authUrl, mcpUrl }, where the two servers
// are LoggedProcess objects and the URLs are base URLs without a path.
// A port of 0 lets the OS pick a free one. cimdOrigin, when set, is the
// auth server's --cimd-origin. On failure the peers already started are
// stopped.
export async function startPeers({
  logDir, authPort = 0, mcpPort = 0, cimdOrigin,
}) {
  const started = [];
  try {
    const spawnOptions = { logDir, env: childEnvironment(), cwd: TESTS_DIR };
    const authArgs = [AUTH_SERVER_SCRIPT, '--port', String(authPort)];
    if (cimdOrigin) authArgs.push('--cimd-origin', cimdOrigin);
    const authServer = new LoggedProcess('auth-server', process.execPath,
      authArgs, spawnOptions);
    started.push(authServer);
    const { url: authUrl } =
      await authServer.waitForReadyLine(READY_TIMEOUT_MS);

    const mcpArgs = [
      MCP_SERVER_SCRIPT, '--port', String(mcpPort), '--auth-server', authUrl,
    ];
    const mcpServer = new LoggedProcess('mcp-server', process.execPath,
      mcpArgs, spawnOptions);
    started.push(mcpServer);
    const { url: mcpUrl } =
      await mcpServer.waitForReadyLine(READY_TIMEOUT_MS);

    return { authServer, mcpServer, authUrl, mcpUrl };
  } catch (error) {
    await Promise.all(started.map((peer) => peer.stop()));
    throw error;
  }
}

// Returns the authorization server's registration count and client ids.
export async function fetchRegistrations(authUrl) {
  const response = await fetch(new URL('/__test/registrations', authUrl), {
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 200) {
    throw new Error(`GET ${authUrl}/__test/registrations returned ` +
      `${response.status}`);
  }
  return response.json();
}

// Returns the number of requests a peer received on its protocol routes.
export async function fetchRequestCount(peerUrl) {
  const response = await fetch(new URL('/__test/requests', peerUrl), {
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 200) {
    throw new Error(`GET ${peerUrl}/__test/requests returned ` +
      `${response.status}`);
  }
  return (await response.json()).count;
}

// Returns the stored metadata of one client registered at the
// authorization server, including its client_secret.
export async function fetchRegisteredClient(authUrl, clientId) {
  const url = new URL(`/__test/clients/${encodeURIComponent(clientId)}`,
    authUrl);
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (response.status !== 200) {
    throw new Error(`GET ${url} returned ${response.status}`);
  }
  return response.json();
}
