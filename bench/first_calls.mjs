// Measures first-time registrations through the gateway: one call alone
// (the critical path), then --count calls at once for distinct users of
// one MCP server. Prints one JSON line with the timings in milliseconds.
//   node first_calls.mjs --gateway URL --key SERVICE_KEY --server ID
//                        [--count 1000] [--prefix NAME]
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const gateway = option('gateway');
const key = option('key');
const server = option('server');
const count = Number(option('count', '1000'));
const prefix = option('prefix', `bench-${process.pid}`);

async function register(user) {
  const response = await fetch(
    `${gateway}/v1/deepagents/mcp-servers/${server}/oauth-provider`, {
      method: 'POST',
      headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ls_user_id: user }),
    });
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(`user ${user}: HTTP ${response.status} ${body}`);
  }
  return JSON.parse(body).oauth_provider_id;
}

let started = performance.now();
await register(`${prefix}-alone`);
const aloneMs = performance.now() - started;

started = performance.now();
const results = await Promise.allSettled(
  Array.from({ length: count }, (_, i) => register(`${prefix}-${i}`)));
const allMs = performance.now() - started;
const failed = results.filter((r) => r.status === 'rejected');
if (failed.length > 0) {
  process.stderr.write(`${failed.length} calls failed; first: ` +
    `${failed[0].reason.message}\n`);
}
const ids = new Set(results.filter((r) => r.status === 'fulfilled')
  .map((r) => r.value));
process.stdout.write(`${JSON.stringify({
  alone_ms: Math.round(aloneMs), count, all_ms: Math.round(allMs),
  ratio: Number((allMs / aloneMs).toFixed(2)), failed: failed.length,
  distinct_ids: ids.size,
})}\n`);
