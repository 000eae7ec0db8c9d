// A reload loses nothing that was made offline. The device goes offline with the page's
// switch, makes changes (saved on this device only), then its region dies and the page
// is reloaded: with no region up, the cart can only come back from IndexedDB, under the
// same replica id, with its changes and their stages, and its counter continues where it
// was. The browser is then restarted on the same profile (storage on disk), and finally
// the region returns and everything reaches another device.
//
// The demo has no service worker, so with the region down nothing would serve the page
// itself: the test serves target/web's files for the region's origin from disk (a
// stand-in for the HTTP cache); API calls still go to the (dead) region.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crash, ErrorWatch, launchBrowser, launchProfile, openDemo, serveWebRootFromDisk, shot, startCluster, userFor,
} from '../support/browser.js';

const HEART = 'itm_85123A'; // £2.95
const CAKESTAND = 'itm_22423'; // £12.75
const CASES = 'itm_21212'; // £0.55
const BAG = 'itm_85099B'; // Jumbo Bag Red Retrospot, £1.95

const dots = (changes) => changes.map((c) => `${c.replicaId}:${c.counter}`);

test('a reload while offline loses nothing, and the replica and its counter survive', async (t) => {
  const profile = await launchProfile(t);
  const other = await launchBrowser(t);
  const cluster = await startCluster(t, ['us-west']);
  const [region] = cluster.regions;
  const [url] = cluster.urls;
  const watch = new ErrorWatch();
  const user = userFor('reload');
  const options = { origin: url, user, device: 'phone', regions: [url], watch, network: true };
  let phone = await openDemo(profile.context, options);

  // One change synced first, so the device has a region's context to keep as well.
  await phone.add(HEART);
  await phone.untilBadges('accepted', 1);

  // Offline by the page's switch: these changes stay on the device.
  await phone.setSwitch(false);
  await phone.until(() => phone.statusData(), (s) => s.connected === 'false', 'the phone offline');
  await phone.add(CAKESTAND);
  await phone.inc(HEART);
  await phone.add(CASES);
  const cart = { [HEART]: 2, [CAKESTAND]: 1, [CASES]: 1 };
  await phone.expectShown(cart, '£19.20');
  const badges = await phone.badges();
  assert.deepEqual(badges.map((b) => b.stage), ['saved', 'saved', 'saved', 'accepted'], 'newest first');
  for (const b of badges.slice(0, 3)) assert.match(b.text, /saved on this device/);
  const before = await phone.snapshot();
  const beforeHex = await phone.stateHex();
  assert.equal(before.status.unsynced, 3);
  assert.equal(before.status.persisted, true);
  assert.equal(before.status.storage, 'indexeddb');
  assert.deepEqual(before.changes.map((c) => c.counter), ['1', '2', '3', '4']);
  await shot(phone.page, 'reload', 'phone-offline-before-reload');

  // The region dies; the page reloads (it starts online, but there is no region to sync with).
  await crash(region);
  const unroute = await serveWebRootFromDisk(profile.context, url);
  await phone.reload();
  await phone.expectShown(cart, '£19.20');
  const reloaded = await phone.snapshot();
  assert.equal(reloaded.status.replicaId, before.status.replicaId, 'the same replica id after the reload');
  assert.deepEqual(dots(reloaded.changes), dots(before.changes), 'every change, with its dot');
  // A subtest, so that the checks below still run (and report) if this one fails.
  await t.test('every change comes back with the stage it had (saved on this device)', async () => {
    assert.deepEqual(reloaded.changes, before.changes);
    const shown = await phone.badges();
    assert.deepEqual(shown.map((b) => b.stage), ['saved', 'saved', 'saved', 'accepted']);
    assert.equal(await phone.card.locator('[data-changes] [data-warning="not-saved"]').count(), 0, 'no badge says "not saved on this device"');
  });
  assert.deepEqual(reloaded.status.context, before.status.context);
  assert.equal(reloaded.status.unsynced, 3);
  assert.equal(reloaded.status.wiped, false);
  assert.equal(await phone.stateHex(), beforeHex, 'the same state, byte for byte');
  assert.equal(await phone.card.locator('[data-facts] code').getAttribute('title'), before.status.replicaId, 'the page shows the same replica');
  assert.equal((await phone.statusData()).persisted, 'true');

  // A new change continues the counter: no dot is minted twice.
  await phone.add(BAG);
  cart[BAG] = 1;
  await phone.expectShown(cart, '£21.15');
  const afterReload = await phone.changes();
  assert.equal(afterReload.length, 5);
  assert.equal(afterReload[4].replicaId, before.status.replicaId);
  assert.equal(afterReload[4].counter, '5');
  assert.equal(new Set(dots(afterReload)).size, 5);
  assert.equal(await phone.card.locator(`[data-change="${before.status.replicaId}:5"]`).getAttribute('data-stage'), 'saved');
  assert.equal((await phone.status()).unsynced, 4);
  assert.match((await phone.status()).lastError ?? '', /no region took the request/, 'it tried the region, which is down');
  await shot(phone.page, 'reload', 'phone-reloaded-region-down');

  // The browser itself restarts on the same profile: the cart is on disk.
  await unroute();
  await profile.relaunch();
  await serveWebRootFromDisk(profile.context, url);
  phone = await openDemo(profile.context, { ...options, page: profile.context.pages()[0] });
  await phone.expectShown(cart, '£21.15');
  const restarted = await phone.snapshot();
  assert.equal(restarted.status.replicaId, before.status.replicaId, 'the same replica id after a browser restart');
  assert.deepEqual(dots(restarted.changes), dots(afterReload));
  assert.equal(restarted.status.unsynced, 4);

  // The region returns: the phone syncs by itself, and another device sees all of it.
  await region.start();
  await phone.until(() => phone.status(), (s) => s.unsynced === 0 && s.lastError === null, 'the phone to sync after the region returns', 20000);
  await phone.untilBadges('accepted', 5);
  const laptop = await openDemo(await other.newContext(), { ...options, device: 'laptop' });
  await laptop.expectShown(cart, '£21.15');
  assert.equal(await laptop.stateHex(), await phone.stateHex());
  await shot(phone.page, 'reload', 'phone-synced');
  await shot(laptop.page, 'reload', 'laptop-sees-everything');
  assert.equal(await phone.errorShown(), null);
  watch.assertClean();
});
