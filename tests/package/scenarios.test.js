// Every scenario file, replayed through the npm package in Node, gives the native
// runner's answers and byte-identical encodings (the browser test does the same in Chromium).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runScenario } from 'offline-cart';
import { nativeReports, scenarioFiles } from '../support/scenarios.js';
import { ROOT } from '../support/regions.js';
import { join } from 'node:path';

test('every scenario file gives the native answers and bytes through the package in Node', async () => {
  const files = scenarioFiles();
  assert.ok(files.length >= 17, `expected the spec's 17 scenarios and ours, found ${files.length}`);
  const native = nativeReports(files);
  for (const file of files) {
    const report = await runScenario(file, readFileSync(join(ROOT, file), 'utf8'));
    assert.deepEqual(report, native.get(file), `${file} differs between the package and the native runner`);
    assert.equal(report.pass, true, `${file}: ${report.failures.join('; ')}`);
  }
});

test('an unreadable scenario is a failure with a message, not a crash', async () => {
  const report = await runScenario('broken.json', '{"replicas": ["a"], "steps": [');
  assert.equal(report.pass, false);
  assert.match(report.failures[0], /broken\.json: not a valid scenario/);
});

