// Conflicting edits made offline on two devices, through the demo's buttons, converge to
// the spec's answer once both are back online. The steps and the expected carts are read
// from the spec's scenario files (shared/spec/scenarios/03 and 05) and played as a
// shopper would: `add N` is N presses of Add, `set N` presses + or − until the line
// shows N (each press is a `set`), `remove` presses Remove, and a `sync` step brings both
// devices online and waits for them to converge. Op steps after a sync are made offline,
// so the two devices cannot see each other's edits: they are concurrent.
//
// Two ways to be offline, both exercised: the browser's own network (context.setOffline,
// which the page sees as navigator.onLine and `offline` events) and the page's online
// switch ([data-online], cart.setOnline).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorWatch, launchBrowser, openDemo, shot, startCluster, userFor } from '../support/browser.js';
import { ROOT } from '../support/regions.js';

// The scenario's item played by a catalogue product, whose price gives the exact total.
const PRODUCT = { id: 'itm_85123A', price: 295n }; // White Hanging Heart T-Light Holder, £2.95, in pence
const money = (pence) => `£${pence / 100n}.${String(pence % 100n).padStart(2, '0')}`;

function scenario(file) {
  return JSON.parse(readFileSync(join(ROOT, '../shared/spec/scenarios', file), 'utf8'));
}

/**
 * Plays `spec` on two demo devices. `offline[name]` says how that device goes offline:
 * 'network' (context.setOffline) or 'switch' (the page's online switch).
 */
async function play(t, spec, name, offline) {
  assert.deepEqual(spec.replicas, ['phone', 'laptop'], 'the scenario names the two devices');
  const items = new Set(spec.steps.filter((s) => s.item).map((s) => s.item));
  assert.equal(items.size, 1, 'one item, played by one catalogue product');
  const [item] = items;

  const browser = await launchBrowser(t);
  const cluster = await startCluster(t, ['us-west']);
  const watch = new ErrorWatch();
  const user = userFor(name);
  const [url] = cluster.urls;
  const devices = {};
  for (const id of spec.replicas) {
    const context = await browser.newContext();
    devices[id] = await openDemo(context, { origin: url, user, device: id, regions: [url], watch, network: true });
    devices[id].context = context;
  }
  const { phone, laptop } = devices;
  let online = true;
  const madeOffline = { phone: 0, laptop: 0 }; // presses since the devices went offline

  const setOnline = async (device, on) => {
    if (offline[device.id] === 'network') await device.context.setOffline(!on);
    else await device.setSwitch(on);
    await device.until(() => device.statusData(), (s) => s.connected === String(on), `${device.label} ${on ? 'online' : 'offline'}`);
  };
  const shownQty = async (device) => (await device.shown())[PRODUCT.id] ?? 0;
  const pressUntil = async (device, press, expected) => {
    await press();
    if (!online) madeOffline[device.id]++;
    await device.until(() => shownQty(device), (q) => q === expected, `${device.label} to show ${expected}`);
  };

  for (const [index, step] of spec.steps.entries()) {
    if (step.sync) {
      assert.deepEqual([...step.sync].sort(), ['laptop', 'phone']);
      if (!online) {
        for (const device of [phone, laptop]) await shot(device.page, name, `${device.id}-offline-before-sync-${index}`);
        // Nothing has left either device: every change since the last sync is only saved here.
        for (const device of [phone, laptop]) {
          const status = await device.status();
          assert.equal(status.online, false);
          const waiting = (await device.badges()).filter((b) => b.stage === 'saved');
          assert.equal(waiting.length, madeOffline[device.id], `${device.label}: one change per press, each saved here only`);
          assert.equal(status.unsynced, waiting.length);
          assert.ok(waiting.every((b) => b.text.includes('saved on this device')), JSON.stringify(waiting));
        }
        await setOnline(phone, true);
        await setOnline(laptop, true);
        online = true;
        madeOffline.phone = madeOffline.laptop = 0;
      }
      // Converged: the same bytes on both, nothing left unsynced.
      await phone.until(async () => [await phone.stateHex(), await laptop.stateHex(), (await phone.status()).unsynced, (await laptop.status()).unsynced],
        ([a, b, ua, ub]) => a === b && ua === 0 && ub === 0, `step ${index}: phone and laptop converge`);
      continue;
    }
    assert.equal(step.item, item, `step ${index}: one item`);
    if (online && index > 0) {
      for (const device of [phone, laptop]) await setOnline(device, false);
      online = false;
    }
    const device = devices[step.at];
    assert.ok(device, `step ${index}: unknown device ${step.at}`);
    const before = await shownQty(device);
    if (step.op === 'add') {
      for (let n = 1; n <= step.qty; n++) await pressUntil(device, () => device.add(PRODUCT.id), before + n);
    } else if (step.op === 'set') {
      assert.ok(before > 0 && step.qty > 0, 'a set played with + and − on a line that is in the cart');
      for (let q = before; q !== step.qty;) {
        q += step.qty > q ? 1 : -1;
        const up = step.qty > before;
        await pressUntil(device, () => (up ? device.inc(PRODUCT.id) : device.dec(PRODUCT.id)), q);
      }
    } else if (step.op === 'remove') {
      await pressUntil(device, () => device.remove(PRODUCT.id), 0);
    } else {
      throw new Error(`step ${index}: ${step.op} is not played by this test`);
    }
  }
  assert.equal(online, true, 'the scenario ends with a sync');

  // The spec's answer, on the page (quantity and exact total) and in the cart.
  for (const [id, cart] of Object.entries(spec.expect)) {
    const qty = cart[item] ?? 0;
    const shown = qty ? { [PRODUCT.id]: qty } : {};
    await devices[id].expectShown(shown, money(PRODUCT.price * BigInt(qty)));
    await shot(devices[id].page, name, `${id}-converged`);
  }
  for (const group of spec.identical ?? []) {
    const states = await Promise.all(group.map((id) => devices[id].stateHex()));
    assert.ok(states.every((s) => s === states[0]), `${group.join(', ')}: identical encodings`);
  }
  for (const device of [phone, laptop]) {
    await device.untilBadges('accepted', 1);
    assert.equal(await device.errorShown(), null);
  }
  watch.assertClean();
  return devices;
}

test('scenario 03 offline: a remove takes only what it saw (add wins over a concurrent remove)', async (t) => {
  const spec = scenario('03-add-wins-over-concurrent-remove.json');
  assert.deepEqual(spec.expect, { phone: { itm_a: 1 }, laptop: { itm_a: 1 } });
  await play(t, spec, 'offline-03', { phone: 'network', laptop: 'switch' });
});

test('scenario 05 offline: set 3 concurrent with add 1 gives 4', async (t) => {
  const spec = scenario('05-set-plus-concurrent-add.json');
  assert.deepEqual(spec.expect, { phone: { itm_a: 4 }, laptop: { itm_a: 4 } });
  await play(t, spec, 'offline-05', { phone: 'switch', laptop: 'network' });
});
