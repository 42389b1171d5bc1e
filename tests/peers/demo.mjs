// Starts the test authorization server and the MCP server together for a
// manual demo, prints one JSON line with their URLs and runs until SIGTERM
// or SIGINT (Ctrl-C):
//   {"ready":true,"auth_url":"http://127.0.0.1:A",
//    "mcp_url":"http://127.0.0.1:M","mcp_endpoint":"http://127.0.0.1:M/mcp",
//    "log_dir":"/tmp/mcpreg-demo-..."}
// (one line in practice). Register mcp_endpoint as an MCP server's url.
// The peers' logs stay in log_dir: --log-dir, or a new folder under the
// system's temporary folder.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startPeers } from '../lib/peers.mjs';
import { parsePort, readOptions } from './common.mjs';

const USAGE = `Usage: node peers/demo.mjs [options]

  --auth-port PORT  authorization server port on 127.0.0.1 (default 0,
                    a free port)
  --mcp-port PORT   MCP server port on 127.0.0.1 (default 0, a free port)
  --log-dir DIR     folder for the peers' logs, created when missing
                    (default: a new mcpreg-demo-* folder under the
                    temporary folder, which is kept)
  -h, --help        print this help
`;

const options = readOptions({
  'auth-port': { default: '0' },
  'mcp-port': { default: '0' },
  'log-dir': {},
}, USAGE);

// Creates the --log-dir folder, or a new one under the temporary folder.
async function makeLogDir(path) {
  if (path === undefined) return mkdtemp(join(tmpdir(), 'mcpreg-demo-'));
  await mkdir(path, { recursive: true });
  return path;
}

let logDir;
let peers;
try {
  logDir = await makeLogDir(options['log-dir']);
  peers = await startPeers({
    logDir,
    authPort: parsePort(options['auth-port']),
    mcpPort: parsePort(options['mcp-port']),
  });
} catch (error) {
  process.stderr.write(`demo peers failed to start: ${error.message}\n`);
  process.exit(1);
}

process.stdout.write(`${JSON.stringify({
  ready: true,
  auth_url: peers.authUrl,
  mcp_url: peers.mcpUrl,
  mcp_endpoint: `${peers.mcpUrl}/mcp`,
  log_dir: logDir,
})}\n`);

let stopping = false;
async function stopPeers(exitCode) {
  if (stopping) return;
  stopping = true;
  await Promise.all([peers.mcpServer.stop(), peers.authServer.stop()]);
  process.exit(exitCode);
}

process.once('SIGTERM', () => stopPeers(0));
process.once('SIGINT', () => stopPeers(0));

// A peer that stops on its own ends the demo with status 1.
for (const peer of [peers.authServer, peers.mcpServer]) {
  peer.exited.then(() => {
    if (stopping) return;
    process.stderr.write(`${peer.name} ${peer.describeExit()}; ` +
      `${peer.logHint()}\n`);
    stopPeers(1);
  });
}
