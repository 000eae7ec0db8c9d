// IndexedDB failing and wiped, in Chromium: the cart keeps working in memory under a
// fresh replica id, says it is not saved on this device, recovers when storage works
// again, and a wiped store is noticed and resynced under a new replica id.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { eventually, startRegions } from '../support/regions.js';

let cluster;
let browser;
before(async () => {
  cluster = await startRegions(['us-west']);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  await cluster?.stop();
});

const demo = (user) => `${cluster.urls[0]}/?devices=phone&user=${user}&regions=${cluster.urls[0]}`;
const status = (page) => page.evaluate(() => window.demo.carts.phone.status());
const changes = (page) => page.evaluate(() => window.demo.carts.phone.changes());
const quantities = (page) => page.evaluate(() => Object.fromEntries(window.demo.carts.phone.items().map((l) => [l.itemId, l.quantity])));

// A switch the test flips: while on, every IndexedDB write fails as a full disk does.
function failingWrites() {
  const put = IDBObjectStore.prototype.put;
  window.__failWrites = false;
  IDBObjectStore.prototype.put = function (...args) {
    if (window.__failWrites) throw new DOMException('the disk is full (test)', 'QuotaExceededError');
    return put.apply(this, args);
  };
}

test('with IndexedDB failing, changes go on in memory, say so, and come back to the device', async (t) => {
  const user = `usr_e2e_storage_${Date.now()}`;
  const context = await browser.newContext();
  t.after(() => context.close());
  await context.addInitScript(failingWrites);
  const page = await context.newPage();
  await page.goto(demo(user));
  await page.evaluate(() => window.demo.ready);
  const device = (await status(page)).replicaId;

  await page.locator('[data-add="itm_85123A"]').click();
  await eventually(async () => (await changes(page)).at(-1)?.stage === 'accepted' || (await changes(page)).at(-1)?.stage === 'replicated', 'the first change to reach the region');
  assert.equal((await changes(page)).at(-1).savedOnDevice, true);

  await page.evaluate(() => { window.__failWrites = true; });
  await page.locator('[data-add="itm_22423"]').click();
  await eventually(async () => (await status(page)).persisted === false, 'the cart to say it is not saved');
  const memory = await status(page);
  assert.notEqual(memory.replicaId, device, 'the unsaved change is made under a fresh id, never the saved one');
  const unsaved = (await changes(page)).at(-1);
  assert.equal(unsaved.savedOnDevice, false);
  assert.equal(unsaved.replicaId, memory.replicaId);
  await page.locator('[data-warning="not-saved"]').first().waitFor();
  assert.deepEqual(await quantities(page), { itm_22423: 1, itm_85123A: 1 });

  // Storage works again: once the region holds the memory replica's changes, the device's saved replica takes over.
  await page.evaluate(() => { window.__failWrites = false; });
  await page.evaluate(() => window.demo.carts.phone.sync());
  await eventually(async () => {
    await page.evaluate(() => window.demo.carts.phone.sync());
    return (await status(page)).persisted;
  }, 'the cart to be saved on the device again');
  assert.equal((await status(page)).replicaId, device);

  // Nothing was lost: a reload restores both items from IndexedDB, under the device's id.
  await page.reload();
  await page.evaluate(() => window.demo.ready);
  assert.equal((await status(page)).replicaId, device);
  assert.deepEqual(await quantities(page), { itm_22423: 1, itm_85123A: 1 });
  const next = await page.evaluate(() => window.demo.carts.phone.add('itm_85123A', 1));
  const counters = (await changes(page)).filter((c) => c.replicaId === device).map((c) => BigInt(c.counter));
  assert.equal(new Set(counters.map(String)).size, counters.length, 'no counter of the device is used twice');
  assert.equal(next.replicaId, device);
});

test('a wiped store is noticed; the device resyncs under a new replica id', async (t) => {
  const user = `usr_e2e_wiped_${Date.now()}`;
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(demo(user));
  await page.evaluate(() => window.demo.ready);
  await page.locator('[data-add="itm_85099B"]').click();
  await eventually(async () => ['accepted', 'replicated'].includes((await changes(page)).at(-1)?.stage), 'the change to reach the region');
  const before = await status(page);
  assert.equal(before.wiped, false);

  // The browser clears the site's IndexedDB (storage pressure, "clear site data").
  await page.goto(`${cluster.urls[0]}/healthz`);
  await page.evaluate((name) => new Promise((ok, fail) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = ok;
    request.onerror = () => fail(request.error);
  }), `offline-cart-demo-phone-${user}`);
  await page.goto(demo(user));
  await page.evaluate(() => window.demo.ready);
  const after = await status(page);
  assert.equal(after.wiped, true);
  assert.notEqual(after.replicaId, before.replicaId, 'old counters are never reused');
  await eventually(async () => (await quantities(page)).itm_85099B === 1, 'the cart to come back from the region');
  await page.locator('[data-line="itm_85099B"] [data-qty]').filter({ hasText: '1' }).waitFor();
});
