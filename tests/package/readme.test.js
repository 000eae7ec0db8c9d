// The package README's usage example runs as written, against a real region.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { startRegions } from '../support/regions.js';

const run = promisify(execFile);

test('the README example of the installed package runs and its assertions hold', async (t) => {
  const readme = readFileSync(join(import.meta.dirname, '../node_modules/offline-cart/README.md'), 'utf8');
  const example = readme.match(/```js\n([\s\S]*?)```/)?.[1];
  assert.ok(example, 'the README has a js example');
  const cluster = await startRegions(['us-west']);
  // Inside tests/, so that `offline-cart` resolves to the installed package.
  const file = join(import.meta.dirname, '../.readme-example.mjs');
  t.after(async () => {
    rmSync(file, { force: true });
    await cluster.stop();
  });
  writeFileSync(file, example);
  const { stderr } = await run(process.execPath, [file], { env: { ...process.env, CART_REGION: cluster.urls[0] }, timeout: 30000 });
  assert.equal(stderr, '');
});
