// Checks docs/discovery.md's error table against docs/errors.md and the
// discovery sources: each code listed exists with the same HTTP status, and
// each error the discovery flow can end with is listed.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { TESTS_DIR } from '../lib/peers.mjs';

const ROOT = join(TESTS_DIR, '..');
const DISCOVERY_DIR = join(ROOT, 'services', 'discovery');

// Errors of the flow that never reach oauth-provider callers as such:
// resource exhaustion, bugs, and the inputs of the DeleteClient RPC.
const INTERNAL_ERRORS = new Set([
  'ENOMEM', 'EINTERNAL', 'EINVALID_FIELD', 'EMISSING_FIELD', 'EINVALID_BODY',
]);

// Returns { code: httpStatus } from the rows "| `code` | 400 | ..." of a
// Markdown file.
async function readTable(path) {
  const text = await readFile(path, 'utf8');
  const rows = {};
  for (const match of text.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)) {
    rows[match[1]] = Number(match[2]);
  }
  return rows;
}

// Returns { ENUM_NAME: code } from the X(...) entries of common/mr_err.h.
async function readErrorCodes() {
  const text = await readFile(join(ROOT, 'common', 'mr_err.h'), 'utf8');
  const codes = {};
  for (const match of text.matchAll(/X\((\w+),\s*"([a-z_]+)"/g)) {
    codes[match[1]] = match[2];
  }
  return codes;
}

// Returns the MR_E* names that the flow's sources pass to disc_flow_fail
// or return, as enum names without the MR_ prefix.
async function readFlowErrors() {
  const names = new Set();
  const files = (await readdir(DISCOVERY_DIR))
    .filter((name) => /^(disc_flow\w*|disc_dcr|disc_meta)\.c$/.test(name))
    .filter((name) => !name.endsWith('_test.c'));
  for (const file of files) {
    const text = await readFile(join(DISCOVERY_DIR, file), 'utf8');
    for (const match of text.matchAll(/\bMR_(E[A-Z_]+)\b/g)) {
      names.add(match[1]);
    }
  }
  return names;
}

test('discovery table matches errors.md', async () => {
  const discovery = await readTable(join(ROOT, 'docs', 'discovery.md'));
  const errors = await readTable(join(ROOT, 'docs', 'errors.md'));

  assert.ok(Object.keys(discovery).length > 10,
    'docs/discovery.md has no error table');
  for (const [code, status] of Object.entries(discovery)) {
    assert.ok(code in errors, `${code} is not in docs/errors.md`);
    assert.equal(status, errors[code], `HTTP status of ${code}`);
  }
});

test('discovery table lists flow errors', async () => {
  const discovery = await readTable(join(ROOT, 'docs', 'discovery.md'));
  const codes = await readErrorCodes();
  const names = await readFlowErrors();

  assert.ok(names.size > 5, 'no MR_E names found in the flow sources');
  for (const name of names) {
    if (INTERNAL_ERRORS.has(name)) continue;
    assert.ok(name in codes, `MR_${name} is not in common/mr_err.h`);
    assert.ok(codes[name] in discovery,
      `${codes[name]} (MR_${name}) is missing from docs/discovery.md`);
  }
});
