// Two regions that replicate with each other: the phone syncs with us-west, the laptop
// with eu-central (each picked in the page's region select), and they converge through
// the regions' replication; every change reaches `replicated`. Then us-west crashes: the
// phone keeps making changes, fails over to eu-central, and keeps syncing; the laptop sees
// everything, and nothing is lost. When us-west comes back, it catches up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crash, ErrorWatch, launchBrowser, openDemo, shot, startCluster, userFor } from '../support/browser.js';

const HEART = 'itm_85123A'; // £2.95
const CAKESTAND = 'itm_22423'; // £12.75
const CASES = 'itm_21212'; // £0.55
const BAG = 'itm_85099B'; // £1.95
const LIVE_MS = 8000; // well under the 20 s anti-entropy period

test('two devices on two regions converge, and a device fails over when its region dies', async (t) => {
  const browser = await launchBrowser(t);
  const cluster = await startCluster(t, ['us-west', 'eu-central']);
  const [west, central] = cluster.urls;
  const watch = new ErrorWatch();
  const user = userFor('failover');
  // Each device's page comes from its own region, and lists both regions, its own first.
  const phone = await openDemo(await browser.newContext(), { origin: west, user, device: 'phone', regions: [west, central], watch, network: true });
  const laptop = await openDemo(await browser.newContext(), { origin: central, user, device: 'laptop', regions: [central, west], watch, network: true });
  await phone.pickRegion(west);
  await laptop.pickRegion(central);

  await phone.add(HEART);
  await phone.add(CAKESTAND);
  await laptop.add(CASES);
  await laptop.inc(CASES);
  const cart = { [HEART]: 1, [CAKESTAND]: 1, [CASES]: 2 };
  await phone.expectShown(cart, '£16.80', LIVE_MS);
  await laptop.expectShown(cart, '£16.80', LIVE_MS);
  assert.equal((await phone.statusData()).regionName, 'us-west');
  assert.equal((await laptop.statusData()).regionName, 'eu-central');

  // Both regions up: every change is stored by one region and held by the other.
  const phoneBadges = await phone.untilBadges('replicated', 2);
  const laptopBadges = await laptop.untilBadges('replicated', 2);
  assert.ok(phoneBadges.every((b) => b.text.includes('replicated to eu-central')), JSON.stringify(phoneBadges));
  assert.ok(laptopBadges.every((b) => b.text.includes('replicated to us-west')), JSON.stringify(laptopBadges));
  assert.deepEqual((await phone.changes()).map((c) => [c.acceptedBy, c.replicatedTo]), [['us-west', ['eu-central']], ['us-west', ['eu-central']]]);
  assert.deepEqual((await laptop.changes()).map((c) => [c.acceptedBy, c.replicatedTo]), [['eu-central', ['us-west']], ['eu-central', ['us-west']]]);
  await shot(phone.page, 'failover', 'phone-replicated');
  await shot(laptop.page, 'failover', 'laptop-replicated');

  // us-west dies. The phone keeps going: its changes land at eu-central.
  await crash(cluster.regions[0]);
  await phone.add(BAG);
  await phone.dec(CAKESTAND); // − at 1 removes
  delete cart[CAKESTAND];
  cart[BAG] = 1;
  await phone.expectShown(cart, '£6.00');
  await phone.until(() => phone.status(), (s) => s.regionName === 'eu-central' && s.unsynced === 0, 'the phone to fail over to eu-central', 15000);
  assert.equal((await phone.statusData()).regionName, 'eu-central');
  const afterFailover = (await phone.changes()).slice(2);
  assert.deepEqual(afterFailover.map((c) => [c.op, c.stage, c.acceptedBy]), [['add', 'accepted', 'eu-central'], ['remove', 'accepted', 'eu-central']]);
  await laptop.expectShown(cart, '£6.00', LIVE_MS);
  await shot(phone.page, 'failover', 'phone-failed-over');
  await shot(laptop.page, 'failover', 'laptop-after-failover');

  // And the other way, with us-west still down: the laptop's change reaches the phone.
  await laptop.inc(HEART);
  cart[HEART] = 2;
  await laptop.expectShown(cart, '£8.95');
  await phone.expectShown(cart, '£8.95', LIVE_MS);
  assert.equal(await phone.stateHex(), await laptop.stateHex(), 'nothing lost: the same cart, byte for byte');

  // us-west returns and catches up: the phone's failover changes become replicated to it.
  await cluster.regions[0].start();
  const final = await phone.until(() => phone.changes(), (cs) => cs.length === 4 && cs.every((c) => c.stage === 'replicated'),
    'every phone change replicated once us-west is back', 20000);
  assert.deepEqual(final.slice(2).map((c) => c.replicatedTo), [['us-west'], ['us-west']]);
  await laptop.untilBadges('replicated', 3, 20000);
  assert.equal(await phone.stateHex(), await laptop.stateHex());
  for (const device of [phone, laptop]) assert.equal(await device.errorShown(), null);
  await shot(phone.page, 'failover', 'phone-us-west-back');
  watch.assertClean();
});
