// An MCP server that moves to another authorization server. The mapping
// keeps its oauth_provider_id; its client belongs to one issuer, so after
// the old server rejects the client (ReportInvalidClient), the next call
// discovers again, registers at the new issuer and deletes the old client
// at the old one (RFC 7592). Two scripted fakes (tests/fake/) play the
// servers: the first is the MCP server and the old authorization server.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { describeResponse } from '../lib/api.mjs';
import { createServer, oauthServerBody } from '../lib/fixtures.mjs';
import { useSystem } from '../lib/harness.mjs';
import { pollUntil } from '../lib/process.mjs';
import { scriptFake } from '../fake/fake-server.mjs';
import {
  MCP_PATH, REGISTER_PATH, json, registered, resourceMetadata,
  startScriptedFake, wellBehaved,
} from '../fake/scenarios.mjs';

const OLD_CLIENT = 'old-client';
const NEW_CLIENT = 'new-client';

let key;

const system = useSystem({
  label: 'issuer-change',
  setup: async () => {
    key = await system.createKey({ user: 'moving-user' });
  },
});

function count(log, method, path) {
  return log.counts[`${method} ${path}`] ?? 0;
}

async function registerProvider(serverId) {
  const response = await system.api('POST',
    `/mcp-servers/${serverId}/oauth-provider`, { key: key.key, body: {} });
  assert.equal(response.status, 200, describeResponse(response));
  return response.json.oauth_provider_id;
}

function showProvider(id) {
  return system.cli(['provider', 'show', '--workspace', key.workspace_id,
    '--id', id]);
}

// The old pair: the MCP server and its authorization server on one fake,
// whose client has RFC 7592 management and a client URI answering 204.
function oldRoutes(changes = {}) {
  return wellBehaved({
    [REGISTER_PATH]: registered({ clientId: OLD_CLIENT }),
    [`${REGISTER_PATH}/${OLD_CLIENT}`]: { status: 204, body: '' },
    ...changes,
  });
}

test('a new issuer gets a new client under the same id', async () => {
  const mcp = await startScriptedFake(oldRoutes());
  const next = await startScriptedFake(wellBehaved({
    [REGISTER_PATH]: registered({ clientId: NEW_CLIENT }),
  }));
  try {
    const server = await createServer(system, key.key,
      oauthServerBody(mcp.mcpUrl));
    const id = await registerProvider(server.id);
    const before = await showProvider(id);
    assert.equal(before.issuer, mcp.url);
    assert.equal(before.client_id, OLD_CLIENT);

    // The resource metadata now names the other server, and the old one
    // rejects the client.
    await scriptFake(mcp.url, oldRoutes({
      [`/.well-known/oauth-protected-resource${MCP_PATH}`]: json(
        resourceMetadata({ authorizationServers: [next.url] })),
    }));
    const report = await system.cli(['provider', 'invalid-client',
      '--workspace', key.workspace_id, '--id', id, '--client-id', OLD_CLIENT]);
    assert.equal(report.marked, true);

    assert.equal(await registerProvider(server.id), id, 'the id stays');
    const after = await showProvider(id);
    assert.equal(after.issuer, next.url);
    assert.equal(after.client_id, NEW_CLIENT);
    assert.equal(after.token_endpoint, `${next.url}/token`);
    assert.equal(count(await next.requests(), 'POST', REGISTER_PATH), 1);
    assert.equal(count(await mcp.requests(), 'POST', REGISTER_PATH), 0,
      'nothing registered at the old issuer');

    const deletes = await pollUntil(async () => {
      const n = count(await mcp.requests(), 'DELETE',
        `${REGISTER_PATH}/${OLD_CLIENT}`);
      return n > 0 ? n : undefined;
    }, { what: 'the RFC 7592 DELETE of the old client', timeoutMs: 10000 });
    assert.equal(deletes, 1);
  } finally {
    await mcp.fake.close();
    await next.fake.close();
  }
});
