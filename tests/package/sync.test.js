// The package's sync client against real sync-server regions (two, replicating), in
// Node: convergence, durability stages, failover, guest merge, refusals.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CartError, openCart } from 'offline-cart';
import { demoToken, eventually, startRegions } from '../support/regions.js';

let cluster;
before(async () => { cluster = await startRegions(['us-west', 'eu-central']); });
after(async () => { await cluster?.stop(); });

const user = (name) => `usr_node_${name}_${Date.now()}`;
function device(userId, regions, extra = {}) {
  return openCart({
    cartId: `cart-${userId}`, regions, storage: 'memory', rankByLatency: false,
    token: (replicaId) => demoToken(regions[0], userId, replicaId), ...extra,
  });
}

test('two devices on two regions converge, and changes reach replicated', async () => {
  const u = user('converge');
  const [west, central] = cluster.urls;
  const phone = await device(u, [west, central]);
  const laptop = await device(u, [central, west]);
  await phone.add('itm_shirt', 2, { unitPrice: '29.99' });
  await laptop.add('itm_shirt', 1);
  await laptop.add('itm_mug', 1, { unitPrice: '8.5' });
  await eventually(async () => {
    await phone.sync();
    await laptop.sync();
    return phone.items().length === 2 && Buffer.compare(phone.stateBytes(), laptop.stateBytes()) === 0;
  }, 'both devices to hold the same bytes');
  assert.equal(phone.items().find((l) => l.itemId === 'itm_shirt').quantity, 3);
  assert.equal(phone.total(), '98.47');
  assert.equal(phone.status().regionName, 'us-west');
  assert.equal(laptop.status().regionName, 'eu-central');
  await eventually(async () => {
    await phone.sync();
    return phone.changes().every((c) => c.stage === 'replicated' && c.replicatedTo.includes('eu-central'));
  }, "the phone's change to be replicated to eu-central");
  assert.equal(phone.changes()[0].acceptedBy, 'us-west');
  await phone.close();
  await laptop.close();
});

test('with its region down, a device fails over to the next and loses nothing', async () => {
  const u = user('failover');
  const [west, central] = cluster.urls;
  const phone = await device(u, [west, central]);
  const laptop = await device(u, [central, west]);
  await phone.add('itm_a', 1);
  assert.equal(await phone.sync(), true);
  await cluster.regions[0].stop();
  try {
    await phone.add('itm_b', 2);
    assert.equal(await phone.sync(), true, 'the sync fails over to eu-central');
    assert.equal(phone.status().regionName, 'eu-central');
    await eventually(async () => {
      await laptop.sync();
      return laptop.items().map((l) => `${l.itemId}=${l.quantity}`).join() === 'itm_a=1,itm_b=2';
    }, 'the laptop to see both changes');
    assert.ok(phone.log().some((e) => e.direction === 'error' || e.text.includes('eu-central')));
  } finally {
    await cluster.regions[0].start();
  }
  await phone.close();
  await laptop.close();
});

test('with every region down, changes wait on the device and sync when one returns', async () => {
  const u = user('outage');
  const phone = await device(u, [cluster.urls[1]], { requestTimeoutMs: 1000 });
  await cluster.regions[1].stop();
  try {
    await phone.add('itm_a', 3);
    assert.equal(await phone.sync(), false);
    assert.match(phone.status().lastError, /no region took the request/);
    assert.equal(phone.status().unsynced, 1);
  } finally {
    await cluster.regions[1].start();
  }
  await eventually(() => phone.sync(), 'a sync after the region returns');
  assert.equal(phone.status().unsynced, 0);
  assert.equal(phone.changes()[0].acceptedBy, 'eu-central');
  await phone.close();
});

test('a guest cart joins the account cart at login', async () => {
  const [west] = cluster.urls;
  const guestUser = user('guest');
  const accountUser = user('account');
  const guest = await device(guestUser, [west]);
  const account = await device(accountUser, [west]);
  await guest.add('itm_mug', 2, { unitPrice: '8.5', name: 'Mug' });
  await account.add('itm_shirt', 1);
  await guest.mergeInto(account);
  assert.deepEqual(account.items().map((l) => [l.itemId, l.quantity, l.unitPrice]), [['itm_mug', 2, '8.5'], ['itm_shirt', 1, null]]);
  assert.deepEqual(guest.items(), []);
  await guest.close();
  await account.close();
});

test("a token for another user's cart is refused, without failing over, and nothing is stored", async () => {
  const [west, central] = cluster.urls;
  const victim = user('victim');
  const thief = await openCart({
    cartId: `cart-${victim}`, regions: [west, central], storage: 'memory', rankByLatency: false,
    token: (replicaId) => demoToken(west, user('thief'), replicaId),
  });
  await thief.add('itm_a', 1);
  assert.equal(await thief.sync(), false);
  assert.match(thief.status().lastError, /403/);
  const owner = await device(victim, [west]);
  assert.equal(await owner.sync(), true);
  assert.deepEqual(owner.items(), []);
  await thief.close();
  await owner.close();
  await assert.rejects(openCart({ storage: 'memory' }), (e) => e instanceof CartError && e.field === 'cartId');
});
