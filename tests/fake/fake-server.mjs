// A scriptable fake that plays an MCP server and its authorization server
// on one loopback port, so that a test can serve exactly the bytes a real
// server in the field sends. The test scripts it over control routes:
//
//   PUT  /__fake/script    body { routes: { "/path": rule | [rule, ...] } }
//                          replaces the script and clears the request log
//   GET  /__fake/requests  { requests: [{ method, path, content_type,
//                          authorization, body }],
//                          counts: { "METHOD /path": n } }
//
// A rule is { status, headers: [[name, value], ...], body, when, times,
// delay_ms, withhold_body }. `body` is sent as is when it is a string and
// as JSON otherwise; with withhold_body its length is declared but the
// body never comes. For each request the first rule of its path that matches is
// served: `when` may require `method`, an exact `content_type` and `json`
// members equal to the given values; `times` lets a rule serve that many
// requests only; `delay_ms` delays the response by that many ms, while
// the request is already in the log.
// In strings, {{origin}} becomes the fake's own origin. A path without a
// matching rule returns 404 with an empty body.
//
// Run as a program (`node fake-server.mjs --port 0`) it prints one ready
// line {"url": ...} on stdout; tests import startFakeServer instead.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const LOOPBACK_HOST = '127.0.0.1';
const CONTROL_PREFIX = '/__fake/';
const MAX_BODY_BYTES = 1 << 20;

// Returns whether every member of `expected` equals the same member of
// `actual`, compared as JSON.
function membersMatch(expected, actual) {
  if (actual === null || typeof actual !== 'object') return false;
  return Object.entries(expected).every(([name, value]) =>
    JSON.stringify(actual[name]) === JSON.stringify(value));
}

function ruleMatches(rule, request) {
  const when = rule.when ?? {};
  if (rule.times !== undefined && rule.served >= rule.times) return false;
  if (when.method !== undefined && when.method !== request.method) {
    return false;
  }
  if (when.content_type !== undefined &&
      when.content_type !== request.content_type) {
    return false;
  }
  if (when.json !== undefined) {
    let parsed;
    try {
      parsed = JSON.parse(request.body);
    } catch {
      return false;
    }
    if (!membersMatch(when.json, parsed)) return false;
  }
  return true;
}

function substitute(text, origin) {
  return text.replaceAll('{{origin}}', origin);
}

// Writes one rule's response; header names and values go out as given,
// one line per pair, so a name may repeat.
function serveRule(response, rule, origin) {
  const raw = [];
  for (const [name, value] of rule.headers ?? []) {
    raw.push(name, substitute(String(value), origin));
  }
  let body = rule.body ?? '';
  if (typeof body !== 'string') body = JSON.stringify(body);
  body = substitute(body, origin);
  const hasType = (rule.headers ?? [])
    .some(([name]) => name.toLowerCase() === 'content-type');
  if (!hasType && typeof rule.body === 'object' && rule.body !== null) {
    raw.push('Content-Type', 'application/json');
  }
  raw.push('Content-Length', String(Buffer.byteLength(body)));
  response.writeHead(rule.status ?? 200, raw);
  // A withheld body is declared but never sent, until the client leaves.
  if (rule.withhold_body) {
    response.flushHeaders();
    return;
  }
  response.end(body);
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function normalizeScript(routes) {
  const script = new Map();
  for (const [path, value] of Object.entries(routes ?? {})) {
    const rules = Array.isArray(value) ? value : [value];
    script.set(path, rules.map((rule) => ({ ...rule, served: 0 })));
  }
  return script;
}

function sendJson(response, status, value) {
  const body = JSON.stringify(value);
  response.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

// Starts the fake on 127.0.0.1 and returns { url, server, close() }.
// A port of 0 lets the OS pick a free one.
export async function startFakeServer({ port = 0 } = {}) {
  let script = new Map();
  let requests = [];
  let origin = '';

  const handleControl = async (request, response, path, body) => {
    if (path === `${CONTROL_PREFIX}script` && request.method === 'PUT') {
      script = normalizeScript(JSON.parse(body).routes);
      requests = [];
      sendJson(response, 200, { routes: [...script.keys()] });
      return;
    }
    if (path === `${CONTROL_PREFIX}requests` && request.method === 'GET') {
      const counts = {};
      for (const item of requests) {
        const key = `${item.method} ${item.path}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      sendJson(response, 200, { requests, counts });
      return;
    }
    sendJson(response, 404, { error: `no control route ${path}` });
  };

  const server = createServer(async (request, response) => {
    try {
      const path = new URL(request.url, origin).pathname;
      const body = await readBody(request);
      if (path.startsWith(CONTROL_PREFIX)) {
        await handleControl(request, response, path, body);
        return;
      }

      const entry = {
        method: request.method,
        path,
        content_type: request.headers['content-type'] ?? null,
        authorization: request.headers.authorization ?? null,
        body,
      };
      requests.push(entry);
      const rule = (script.get(path) ?? [])
        .find((candidate) => ruleMatches(candidate, entry));
      if (!rule) {
        response.writeHead(404, { 'Content-Length': 0 });
        response.end();
        return;
      }
      rule.served += 1;
      if (rule.delay_ms !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, rule.delay_ms));
      }
      serveRule(response, rule, origin);
    } catch (error) {
      sendJson(response, 500, { error: error.message });
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK_HOST, resolve);
  });
  origin = `http://${LOOPBACK_HOST}:${server.address().port}`;
  return {
    url: origin,
    server,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

// Replaces the script of the fake at `url` and clears its request log.
export async function scriptFake(url, routes) {
  const response = await fetch(new URL(`${CONTROL_PREFIX}script`, url), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ routes }),
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 200) {
    throw new Error(`PUT ${url}${CONTROL_PREFIX}script returned ` +
      `${response.status}: ${await response.text()}`);
  }
}

// Returns { requests, counts } as the fake at `url` recorded them.
export async function fetchFakeRequests(url) {
  const response = await fetch(new URL(`${CONTROL_PREFIX}requests`, url), {
    signal: AbortSignal.timeout(5000),
  });
  if (response.status !== 200) {
    throw new Error(`GET ${url}${CONTROL_PREFIX}requests returned ` +
      `${response.status}`);
  }
  return response.json();
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  const fake = await startFakeServer({ port: Number(values.port ?? 0) });
  process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);
  process.on('SIGTERM', async () => {
    await fake.close();
    process.exit(0);
  });
}
