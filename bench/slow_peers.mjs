// A fake MCP server and authorization server on one loopback origin that
// delays every response by --delay-ms (default 100), for the first-call
// benchmark. Prints {"url": ..., "mcp_url": ...} when ready; GET
// /__bench/counts returns how many requests each route received.
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const delayMs = Number(option('delay-ms', '100'));
const port = Number(option('port', '0'));

const counts = {};
let origin = '';

function send(res, status, body, headers = {}) {
  setTimeout(() => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }, delayMs);
}

function route(req, res) {
  const path = new URL(req.url, origin).pathname;
  counts[path] = (counts[path] || 0) + 1;

  if (path === '/__bench/counts') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(counts));
  } else if (path === '/mcp') {
    const metadata = `${origin}/.well-known/oauth-protected-resource/mcp`;
    send(res, 401, { error: 'unauthorized' }, {
      'WWW-Authenticate': `Bearer resource_metadata="${metadata}"`,
    });
  } else if (path === '/.well-known/oauth-protected-resource/mcp') {
    send(res, 200, {
      resource: `${origin}/mcp`,
      authorization_servers: [origin],
      scopes_supported: ['mcp'],
    });
  } else if (path === '/.well-known/oauth-authorization-server') {
    send(res, 200, {
      issuer: origin,
      authorization_endpoint: `${origin}/authorize`,
      token_endpoint: `${origin}/token`,
      registration_endpoint: `${origin}/register`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic'],
    });
  } else if (path === '/register' && req.method === 'POST') {
    req.resume();
    req.on('end', () => send(res, 201, {
      client_id: randomUUID(),
      client_secret: randomUUID(),
      client_secret_expires_at: 0,
      token_endpoint_auth_method: 'client_secret_basic',
    }));
  } else {
    send(res, 404, { error: 'not_found' });
  }
}

const server = http.createServer(route);
server.maxConnections = 20000;
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  origin = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ url: origin,
    mcp_url: `${origin}/mcp` })}\n`);
});
process.once('SIGTERM', () => process.exit(0));
