-- POSTs an empty JSON object with the API key from the environment to the
-- URL given on the wrk command line, and prints one BENCH line at the end.
local key = os.getenv("MCPREG_BENCH_KEY") or ""
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = key

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d rps=%.0f p50_ms=%.2f " ..
    "p99_ms=%.2f errors=%d\n", summary.requests,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
