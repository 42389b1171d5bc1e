// Hostile MCP and authorization servers for the security integration
// tests. One HTTP server on 127.0.0.1 plays every attack, chosen by the
// first path segment (the scenario) of the MCP server URL
// http://127.0.0.1:PORT/SCENARIO/mcp. A second server on 127.0.0.2, which
// the tests keep off the worker's allow-list, is the private address. It
// returns 404 to everything and counts every connection, so a test can
// prove that the worker never connected to it. Both listen on loopback
// only, and no scenario names a host outside 127.0.0.0/8 except the cloud
// metadata address, which appears only in URLs that the worker must reject
// before it opens a socket.
import http from 'node:http';

// The cloud metadata address that the SSRF scenarios name.
export const METADATA_ADDRESS = '169.254.169.254';

// Size of the body of the `huge-body` scenario.
export const HUGE_BODY_BYTES = 50 * 1024 * 1024;

// Pause between the bytes of the `trickle` scenario.
const TRICKLE_INTERVAL_MS = 100;
const CHUNK = Buffer.alloc(64 * 1024, 0x20);

function listen(server, host, port = 0) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

// Counts the connections of `server` into counts[name].
function countConnections(server, counts, name) {
  counts[name] = 0;
  server.on('connection', (socket) => {
    counts[name] += 1;
    socket.on('error', () => {});
  });
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

// Streams HUGE_BODY_BYTES of spaces as the socket drains and records
// whether the whole body was written.
// With `chunked` set, the length is not announced, so only the bytes
// received can show the client that the body is too large.
function sendHugeBody(res, stats, { chunked }) {
  const headers = { 'content-type': 'application/json' };
  if (!chunked) headers['content-length'] = HUGE_BODY_BYTES;
  res.writeHead(200, headers);
  let written = 0;
  const pump = () => {
    while (written < HUGE_BODY_BYTES) {
      const n = Math.min(CHUNK.length, HUGE_BODY_BYTES - written);
      written += n;
      stats.hugeBytesWritten = written;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end(() => { stats.hugeBodyFinished = true; });
  };
  res.on('close', () => { stats.hugeBodyClosed = true; });
  pump();
}

// Sends the headers and then one byte every TRICKLE_INTERVAL_MS until the
// client goes away, so the body never ends.
function sendTrickle(res, stats) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{');
  const timer = setInterval(() => {
    stats.trickleBytes += 1;
    res.write(' ');
  }, TRICKLE_INTERVAL_MS);
  res.on('close', () => {
    clearInterval(timer);
    stats.trickleClosedAt = performance.now();
  });
}

// Returns the protected resource metadata of a scenario.
function resourceMetadata(scenario, base) {
  const doc = {
    resource: `${base}/${scenario}/mcp`,
    authorization_servers: [`${base}/${scenario}/as`],
  };
  if (scenario === 'metadata-ip-issuer') {
    doc.authorization_servers = [`http://${METADATA_ADDRESS}/latest`];
  } else if (scenario === 'resource-mismatch') {
    doc.resource = `${base}/someone-else/mcp`;
  }
  return doc;
}

// Returns the authorization server metadata of a scenario.
function serverMetadata(scenario, base, sinkBase) {
  const issuer = `${base}/${scenario}/as`;
  const doc = {
    issuer,
    authorization_endpoint: `${base}/${scenario}/authorize`,
    token_endpoint: `${base}/${scenario}/token`,
    registration_endpoint: `${base}/${scenario}/register`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
  };
  if (scenario === 'issuer-mismatch') {
    doc.issuer = `${base}/someone-else/as`;
  } else if (scenario === 'http-endpoint') {
    doc.token_endpoint = `${sinkBase}/token`;
    doc.registration_endpoint = `${sinkBase}/register`;
  }
  return doc;
}

// Starts the hostile server on 127.0.0.1 and the sink on 127.0.0.2, and
// also on [::1] with the same port when the host has IPv6 loopback, so a
// connection to "localhost" is counted whichever address it takes.
// Returns { base, port, sinkBase, sinkPort, connections, requests, stats,
// mcpUrl(scenario), close() }.
export async function startHostileServers() {
  const connections = {};
  const requests = [];
  const stats = {
    hugeBytesWritten: 0, hugeBodyFinished: false, hugeBodyClosed: false,
    trickleBytes: 0, trickleClosedAt: null, registrations: 0,
  };
  let base = '';
  let sinkBase = '';

  const handler = (req, res) => {
    const url = new URL(req.url, base);
    requests.push(`${req.method} ${url.pathname}`);
    const wellKnown = /^\/\.well-known\/[a-z-]+\/([a-z-]+)\//.exec(
      url.pathname);
    const scenario = wellKnown?.[1] ?? url.pathname.split('/')[1];
    const rest = wellKnown
      ? url.pathname.slice(wellKnown[0].length - 1)
      : url.pathname.slice(scenario.length + 1);
    const kind = wellKnown ? url.pathname.split('/')[2] : rest;
    route({ req, res, scenario, kind, rest });
  };

  const route = ({ req, res, scenario, kind }) => {
    if (kind === '/mcp') {
      let metadataUrl = `${base}/${scenario}/prm`;
      if (scenario === 'metadata-ip-challenge') {
        metadataUrl = `http://${METADATA_ADDRESS}/latest/meta-data/`;
      }
      sendJson(res, 401, { error: 'unauthorized' }, {
        'www-authenticate': `Bearer resource_metadata="${metadataUrl}"`,
      });
    } else if (kind === '/prm' || kind === 'oauth-protected-resource') {
      if (scenario === 'metadata-ip-challenge') {
        sendJson(res, 404, { error: 'not_found' });
      } else if (scenario === 'redirect-private') {
        res.writeHead(302, { location: `${sinkBase}/prm` });
        res.end();
      } else if (scenario === 'redirect-private-https') {
        res.writeHead(302, {
          location: `${sinkBase.replace('http:', 'https:')}/prm`,
        });
        res.end();
      } else if (scenario === 'huge-body' || scenario === 'huge-chunked') {
        sendHugeBody(res, stats, { chunked: scenario === 'huge-chunked' });
      } else if (scenario === 'trickle') {
        sendTrickle(res, stats);
      } else {
        sendJson(res, 200, resourceMetadata(scenario, base));
      }
    } else if (kind === 'oauth-authorization-server' ||
               kind === 'openid-configuration') {
      sendJson(res, 200, serverMetadata(scenario, base, sinkBase));
    } else if (kind === '/register' && scenario === 'register-redirect') {
      // 307 keeps the method and body, so following it would repeat the
      // POST at 127.0.0.2.
      req.resume();
      res.writeHead(307, { location: `${sinkBase}/register` });
      res.end();
    } else if (kind === '/register' && req.method === 'POST') {
      stats.registrations += 1;
      req.resume();
      sendJson(res, 201, {
        client_id: `client-${stats.registrations}`,
        client_secret: `secret-${stats.registrations}`,
        token_endpoint_auth_method: 'client_secret_basic',
      });
    } else {
      sendJson(res, 404, { error: 'not_found' });
    }
  };

  const main = http.createServer(handler);
  countConnections(main, connections, 'main');
  const port = await listen(main, '127.0.0.1');
  base = `http://127.0.0.1:${port}`;

  const sink = http.createServer((req, res) => {
    requests.push(`sink ${req.method} ${req.url}`);
    sendJson(res, 404, { error: 'not_found' });
  });
  countConnections(sink, connections, 'sink');
  const sinkPort = await listen(sink, '127.0.0.2');
  sinkBase = `http://127.0.0.2:${sinkPort}`;

  let v6 = http.createServer(handler);
  countConnections(v6, connections, 'v6');
  try {
    await listen(v6, '::1', port);
  } catch {
    v6 = null; // no IPv6 loopback; curl then cannot use ::1 either
  }

  const servers = [main, sink, v6].filter(Boolean);
  return {
    base,
    port,
    sinkBase,
    sinkPort,
    connections,
    requests,
    stats,
    mcpUrl: (scenario) => `${base}/${scenario}/mcp`,
    async close() {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) =>
        new Promise((resolve) => server.close(resolve))));
    },
  };
}
