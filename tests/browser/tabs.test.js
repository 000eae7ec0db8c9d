// Two tabs of one device (two pages of one browser context: one IndexedDB, one origin)
// never mint the same dot: each holds its own replica id, and every change's
// (replica id, counter) across both tabs is unique, also after a tab is closed and
// reopened. The tabs converge through the region, and with the region down they still
// see each other's changes at once, over their BroadcastChannel.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  crash, ErrorWatch, launchBrowser, openDemo, serveWebRootFromDisk, shot, startCluster, userFor,
} from '../support/browser.js';

const HEART = 'itm_85123A'; // £2.95
const CAKESTAND = 'itm_22423'; // £12.75
const CASES = 'itm_21212'; // £0.55
const BAG = 'itm_85099B'; // £1.95
const LIVE_MS = 5000;

const dot = (c) => `${c.replicaId}:${c.counter}`;

async function assertDotsUnique(tabs) {
  const all = (await Promise.all(tabs.map((tab) => tab.changes()))).flat();
  const dots = all.map(dot);
  assert.equal(new Set(dots).size, dots.length, `a dot minted twice: ${dots.join(' ')}`);
  // And what the page shows agrees: every badge is a distinct dot.
  const badges = (await Promise.all(tabs.map((tab) => tab.badges()))).flat().map((b) => b.dot);
  assert.equal(new Set(badges).size, badges.length, `a badge shown twice: ${badges.join(' ')}`);
  return all;
}

test('two tabs of one device: different replica ids, unique dots, and they converge, with or without the region', async (t) => {
  const browser = await launchBrowser(t);
  const cluster = await startCluster(t, ['us-west']);
  const [url] = cluster.urls;
  const watch = new ErrorWatch();
  const user = userFor('tabs');
  const context = await browser.newContext();
  const options = { origin: url, user, device: 'phone', regions: [url], watch, network: true };
  const one = await openDemo(context, { ...options, label: 'tab 1' });
  const two = await openDemo(context, { ...options, label: 'tab 2' });
  const idOne = (await one.status()).replicaId;
  const idTwo = (await two.status()).replicaId;
  assert.notEqual(idOne, idTwo, 'two tabs, two replica ids');

  // Both tabs edit, quickly, the same item and others; both converge.
  await one.add(HEART);
  await two.add(HEART);
  await one.add(CAKESTAND);
  await two.inc(HEART);
  await two.add(CASES);
  let cart = { [HEART]: 3, [CAKESTAND]: 1, [CASES]: 1 };
  await one.expectShown(cart, '£22.15', LIVE_MS);
  await two.expectShown(cart, '£22.15', LIVE_MS);
  let changes = await assertDotsUnique([one, two]);
  assert.equal(changes.length, 5);
  assert.deepEqual(changes.filter((c) => c.replicaId === idOne).map((c) => c.counter), ['1', '2']);
  assert.deepEqual(changes.filter((c) => c.replicaId === idTwo).map((c) => c.counter), ['1', '2', '3']);
  await one.until(async () => [await one.stateHex(), await two.stateHex()], ([a, b]) => a === b, 'the same bytes in both tabs');
  await one.untilBadges('accepted', 2);
  await two.untilBadges('accepted', 3);
  await shot(one.page, 'tabs', 'tab1-online');
  await shot(two.page, 'tabs', 'tab2-online');

  // The region dies: the tabs still hear each other, at once, with no server.
  await crash(cluster.regions[0]);
  await one.remove(CAKESTAND);
  await two.add(BAG);
  await one.inc(CASES);
  delete cart[CAKESTAND];
  cart = { ...cart, [BAG]: 1, [CASES]: 2 };
  await one.expectShown(cart, '£11.90', LIVE_MS);
  await two.expectShown(cart, '£11.90', LIVE_MS);
  for (const tab of [one, two]) {
    assert.ok((await tab.log()).some((e) => e.text === 'change from another tab'), `${tab.label} heard the other tab`);
  }
  assert.equal(await one.stateHex(), await two.stateHex(), 'the same bytes in both tabs, without a server');
  changes = await assertDotsUnique([one, two]);
  assert.equal(changes.length, 8);
  await shot(one.page, 'tabs', 'tab1-region-down');
  await shot(two.page, 'tabs', 'tab2-region-down');

  // Tab 2 closes and a tab opens again: whichever replica it takes, it reuses no dot.
  // (The region that served the page is down: its files come from disk, as from a cache.)
  await two.page.close();
  const unroute = await serveWebRootFromDisk(context, url);
  const three = await openDemo(context, { ...options, label: 'tab 3' });
  await three.expectShown(cart, '£11.90');
  const idThree = (await three.status()).replicaId;
  assert.notEqual(idThree, idOne, 'the new tab does not share the open tab\'s replica');
  await three.add(HEART);
  cart[HEART] = 4;
  await three.expectShown(cart, '£14.85');
  await one.expectShown(cart, '£14.85', LIVE_MS);
  const before = changes.filter((c) => c.replicaId === idThree).map((c) => BigInt(c.counter));
  const made = (await three.changes()).at(-1);
  assert.equal(made.replicaId, idThree);
  if (before.length) assert.ok(BigInt(made.counter) > before.reduce((a, b) => (a > b ? a : b)), 'the counter continues');
  const all = [...changes, made].map(dot);
  assert.equal(new Set(all).size, all.length, `a dot minted twice: ${all.join(' ')}`);

  // The region returns: everything the tabs made reaches it.
  await unroute();
  await cluster.regions[0].start();
  for (const tab of [one, three]) {
    await tab.until(() => tab.status(), (s) => s.unsynced === 0, `${tab.label} to sync after the region returns`, 20000);
  }
  assert.equal(await one.stateHex(), await three.stateHex());
  for (const tab of [one, three]) assert.equal(await tab.errorShown(), null);
  watch.assertClean();
});

// Two tabs that heard each other's changes before either synced: each holds changes of
// the other that the region has not seen. The region takes another replica's changes
// only with that replica's token, so each tab sends its sibling's token beside its own
// (Cart-Sibling-Tokens); without it, both were refused, each waiting for the other.
test('two tabs holding each other\'s unsynced changes both sync when they come online', async (t) => {
  const browser = await launchBrowser(t);
  const cluster = await startCluster(t, ['us-west']);
  const [url] = cluster.urls;
  const watch = new ErrorWatch();
  const context = await browser.newContext();
  const options = { origin: url, user: userFor('tabs-offline'), device: 'phone', regions: [url], watch, network: true };
  const one = await openDemo(context, { ...options, label: 'tab 1' });
  const two = await openDemo(context, { ...options, label: 'tab 2' });
  for (const tab of [one, two]) {
    await tab.setSwitch(false);
    await tab.until(() => tab.statusData(), (s) => s.connected === 'false', `${tab.label} offline`);
  }
  await one.add(HEART);
  await two.add(CAKESTAND);
  await one.inc(CAKESTAND);
  await two.inc(HEART);
  const cart = { [HEART]: 2, [CAKESTAND]: 2 };
  await one.expectShown(cart, '£31.40', LIVE_MS);
  await two.expectShown(cart, '£31.40', LIVE_MS);
  for (const tab of [one, two]) await tab.setSwitch(true);
  await one.untilBadges('accepted', 2);
  await two.untilBadges('accepted', 2);
  for (const tab of [one, two]) {
    await tab.until(() => tab.status(), (s) => s.unsynced === 0, `${tab.label} to sync everything`, LIVE_MS);
    assert.equal(await tab.errorShown(), null);
  }
  assert.equal(await one.stateHex(), await two.stateHex());
  await shot(one.page, 'tabs', 'tab1-both-synced-after-offline');
  watch.assertClean();
});
