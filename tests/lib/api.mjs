// HTTP client for the mcpreg REST API in tests.

export const API_BASE_PATH = '/v1/deepagents';
const DEFAULT_TIMEOUT_MS = 15000;

// Sends one request and returns { status, headers, text, json, elapsedMs,
// method, url }. `path` is relative to API_BASE_PATH unless `absolutePath`
// is set. `body` is sent as JSON. `rawBody` is sent as given, with a JSON
// content type unless `headers` sets one. `key` sets X-Api-Key. json is
// undefined when the response body is empty or not JSON.
export async function callApi(baseUrl, method, path, {
  key, body, rawBody, headers = {}, timeoutMs = DEFAULT_TIMEOUT_MS,
  absolutePath = false,
} = {}) {
  const requestHeaders = { ...headers };
  if (key !== undefined) requestHeaders['x-api-key'] = key;

  let requestBody;
  if (rawBody !== undefined) {
    requestBody = rawBody;
  } else if (body !== undefined) {
    requestBody = JSON.stringify(body);
  }
  const hasContentType = Object.keys(requestHeaders)
    .some((name) => name.toLowerCase() === 'content-type');
  if (requestBody !== undefined && !hasContentType) {
    requestHeaders['content-type'] = 'application/json';
  }

  const url = new URL(absolutePath ? path : API_BASE_PATH + path, baseUrl);
  const started = performance.now();
  const response = await fetch(url, {
    method,
    headers: requestHeaders,
    body: requestBody,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  const elapsedMs = performance.now() - started;

  let json;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: response.status, headers: response.headers, text, json,
    elapsedMs, method, url: url.href };
}

// Describes a response for assertion messages.
export function describeResponse(response) {
  const body = response.text.length > 500
    ? `${response.text.slice(0, 500)}...` : response.text;
  return `${response.method} ${response.url} -> ${response.status} ${body}`;
}
