// Two devices (two browser contexts, separate storage) converge through one region, live:
// what one shopper does on the phone appears on the laptop without a reload, by the
// region's event stream, and the other way round.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorWatch, launchBrowser, openDemo, shot, startCluster, userFor } from '../support/browser.js';

const HEART = 'itm_85123A'; // White Hanging Heart T-Light Holder, £2.95
const CAKESTAND = 'itm_22423'; // Regency Cakestand 3 Tier, £12.75
const CASES = 'itm_21212'; // Pack Of 72 Retro Spot Cake Cases, £0.55

// Well under the package's 20 s anti-entropy period: only the event stream can be this quick.
const LIVE_MS = 8000;

test('two devices converge through one region, live, both ways', async (t) => {
  const browser = await launchBrowser(t);
  const cluster = await startCluster(t, ['us-west']);
  const watch = new ErrorWatch();
  const user = userFor('converge');
  const [url] = cluster.urls;
  const open = async (device) => openDemo(await browser.newContext(), { origin: url, user, device, regions: [url], watch });
  const phone = await open('phone');
  const laptop = await open('laptop');
  await phone.expectShown({}, '£0.00');
  await laptop.expectShown({}, '£0.00');
  assert.notEqual((await phone.status()).replicaId, (await laptop.status()).replicaId, 'two devices, two replica ids');

  // The phone adds two catalogue items and changes a quantity.
  await phone.add(HEART);
  await phone.add(CAKESTAND);
  await phone.expectShown({ [HEART]: 1, [CAKESTAND]: 1 }, '£15.70');
  await phone.inc(HEART);
  await phone.expectShown({ [HEART]: 2, [CAKESTAND]: 1 }, '£18.65');
  await shot(phone.page, 'converge', 'phone-after-edits');

  await laptop.expectShown({ [HEART]: 2, [CAKESTAND]: 1 }, '£18.65', LIVE_MS);
  await shot(laptop.page, 'converge', 'laptop-sees-phone');
  assert.ok((await laptop.log()).some((e) => e.text === 'change event: syncing'), 'the laptop heard the change on the event stream');
  const laptopLine = (await laptop.snapshot()).items.find((l) => l.itemId === HEART);
  assert.deepEqual(laptopLine, {
    itemId: HEART, quantity: 2, unitPrice: '2.95', lineTotal: '5.9',
    name: 'White Hanging Heart T-Light Holder', imageUrl: null, attributes: {},
  }, "the phone's price and name travelled with its write");
  assert.equal(await laptop.card.locator(`[data-line="${HEART}"] .line-total`).textContent(), '£5.90');

  // And the other way: the laptop takes the cakestand out (− at 1 removes) and adds cake cases.
  await laptop.dec(CAKESTAND);
  await laptop.add(CASES);
  await laptop.expectShown({ [HEART]: 2, [CASES]: 1 }, '£6.45');
  await phone.expectShown({ [HEART]: 2, [CASES]: 1 }, '£6.45', LIVE_MS);
  assert.ok((await phone.log()).some((e) => e.text === 'change event: syncing'), 'the phone heard the change on the event stream');
  await shot(phone.page, 'converge', 'phone-sees-laptop');
  await shot(laptop.page, 'converge', 'laptop-after-edits');

  // Same cart, byte for byte; every change accepted by the region, none left unsynced.
  await phone.until(async () => [await phone.stateHex(), await laptop.stateHex()], ([a, b]) => a === b, 'the same bytes on both');
  for (const device of [phone, laptop]) {
    await device.untilBadges('accepted', 2);
    const status = await device.status();
    assert.equal(status.unsynced, 0);
    assert.equal(status.regionName, 'us-west');
    assert.equal(status.persisted, true);
    assert.deepEqual(await device.statusData(), { status: '', persisted: 'true', connected: 'true', regionName: 'us-west' });
    assert.equal(await device.errorShown(), null);
  }
  assert.equal((await phone.changes()).length, 3);
  assert.equal((await laptop.changes()).length, 2);
  watch.assertClean();
});
