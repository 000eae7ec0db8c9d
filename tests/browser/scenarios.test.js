// Every scenario file, replayed through the npm package inside Chromium (the very files a
// region serves under /pkg/, WebAssembly included), gives exactly the native runner's
// reports: the same carts, refusals, failures, sizes and final encodings (`states`).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorWatch, launchBrowser, startCluster } from '../support/browser.js';
import { ROOT } from '../support/regions.js';
import { nativeReports, scenarioFiles } from '../support/scenarios.js';

test('every scenario file gives the native reports through the package in Chromium', async (t) => {
  const files = scenarioFiles();
  assert.ok(files.length >= 17, `expected the spec's 17 scenarios and ours, found ${files.length}`);
  const native = nativeReports(files);
  const browser = await launchBrowser(t);
  const cluster = await startCluster(t, ['us-west']);
  const watch = new ErrorWatch();
  const page = watch.watch(await (await browser.newContext()).newPage(), 'scenarios');
  // A page of the region's origin that is not the demo: the package alone is loaded.
  await page.goto(`${cluster.urls[0]}/healthz`);
  const inputs = files.map((file) => [file, readFileSync(join(ROOT, file), 'utf8')]);
  const { reports, engine } = await page.evaluate(async (inputs) => {
    const { runScenario } = await import('/pkg/index.js');
    const reports = [];
    for (const [file, json] of inputs) reports.push(await runScenario(file, json));
    const broken = await runScenario('broken.json', '{"replicas": ["a"], "steps": [');
    return { reports: [...reports, broken], engine: navigator.userAgent };
  }, inputs);
  assert.match(engine, /Chrome\/\d+/, 'ran in Chromium');
  const broken = reports.pop();
  assert.equal(reports.length, files.length);
  files.forEach((file, i) => {
    assert.deepEqual(reports[i], native.get(file), `${file} differs between Chromium and the native runner`);
    assert.equal(reports[i].pass, true, `${file}: ${reports[i].failures.join('; ')}`);
    assert.ok(Object.keys(reports[i].states).length > 0, `${file}: the report has the final encodings`);
  });
  assert.equal(broken.pass, false);
  assert.match(broken.failures[0], /broken\.json: not a valid scenario/);
  watch.assertClean();
});
