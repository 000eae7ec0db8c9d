// The JS boundary's known failure classes (issue 4), each reproduced against the
// package as installed from its npm tarball.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CartError, loadCore, openCart } from 'offline-cart';

const open = () => openCart({ cartId: 'cart-usr_boundary', storage: 'memory' });

test('lines, attributes and contexts are plain objects that JSON.stringify prints whole', async () => {
  const cart = await open();
  await cart.add('itm_shirt', 2, { unitPrice: '29.99', name: 'Shirt', attributes: { size: 'M', colour: 'blue' } });
  const [line] = cart.items();
  assert.equal(Object.getPrototypeOf(line), Object.prototype);
  assert.equal(Object.getPrototypeOf(line.attributes), Object.prototype);
  assert.equal(Object.getPrototypeOf(cart.status().context), Object.prototype);
  const roundTrip = JSON.parse(JSON.stringify(cart.snapshot()));
  assert.deepEqual(roundTrip.items[0].attributes, { colour: 'blue', size: 'M' });
  assert.deepEqual(Object.values(roundTrip.status.context), ['1']);
  assert.equal(roundTrip.total, '59.98');
  await cart.close();
});

/** A saved replica blob (CREP, version 1, id, varint next counter, state) with a chosen next counter. */
function replicaBlob(id, next, stateBytes) {
  const varint = (n) => {
    const out = [];
    for (let v = BigInt(n); ; v >>= 7n) {
      if (v < 0x80n) return [...out, Number(v)];
      out.push(Number((v & 0x7fn) | 0x80n));
    }
  };
  return Uint8Array.from([...new TextEncoder().encode('CREP'), 1, ...id, ...varint(next), ...varint(stateBytes.length), ...stateBytes]);
}

test('counters above 2^53 stay exact end to end, as text', async () => {
  const { glue } = await loadCore();
  const fresh = new glue.CoreReplica();
  const id = fresh.replicaId.replaceAll('-', '').match(/../g).map((h) => parseInt(h, 16));
  const big = 2n ** 53n + 1n; // 9007199254740993: the first integer a JS number cannot hold
  const phone = glue.CoreReplica.fromBytes(replicaBlob(id, big, fresh.stateBytes()));
  assert.equal(phone.nextCounter, '9007199254740993');
  const delta = phone.add('itm_a', 1, null);
  assert.equal(phone.nextCounter, '9007199254740994');
  const laptop = new glue.CoreReplica();
  laptop.join(delta);
  assert.equal(laptop.context()[phone.replicaId], '9007199254740993');
  assert.equal(glue.seenUpTo(laptop.contextBytes(), phone.replicaId), '0'); // 1..2^53 were never seen
  // And back through a saved blob, bit-exact.
  const restored = glue.CoreReplica.fromBytes(phone.toBytes());
  assert.equal(restored.nextCounter, '9007199254740994');
  assert.deepEqual(restored.stateBytes(), phone.stateBytes());
});

test('no replica id is drawn without a working crypto.getRandomValues', async (t) => {
  const real = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  t.after(() => Object.defineProperty(globalThis, 'crypto', real));
  for (const [what, stub] of [
    ['missing', undefined],
    ['throwing', { getRandomValues() { throw new Error('no entropy'); } }],
    ['constant', { getRandomValues(a) { return a; } }],
  ]) {
    Object.defineProperty(globalThis, 'crypto', { value: stub, configurable: true, writable: true });
    await assert.rejects(open(), (e) => e instanceof CartError && e.code === 'no_secure_random', `crypto ${what}`);
  }
  Object.defineProperty(globalThis, 'crypto', real);
  const ids = new Set();
  for (let i = 0; i < 50; i++) {
    const cart = await open();
    ids.add(cart.status().replicaId);
    await cart.close();
  }
  assert.equal(ids.size, 50);
});

test('a panic is a CartError with its message, and the cart recovers from its last state', async () => {
  const cart = await open();
  await cart.add('itm_a', 2);
  const before = cart.stateBytes();
  await assert.rejects(cart.__panicForTests('the bug we hope never to meet'), (e) => {
    assert.ok(e instanceof CartError);
    assert.equal(e.code, 'panic');
    assert.match(e.message, /the bug we hope never to meet/);
    assert.ok(!(e instanceof WebAssembly.RuntimeError));
    return true;
  });
  assert.deepEqual(cart.stateBytes(), before);
  const change = await cart.add('itm_a', 1);
  assert.equal(change.counter, '2', 'the recovered replica goes on from its counter');
  assert.equal(cart.items()[0].quantity, 3);
  await cart.close();
});

test('bad input is refused with the field named, and changes nothing', async () => {
  const cart = await open();
  await cart.add('itm_a', 1, { unitPrice: '1.5' });
  const before = cart.stateBytes();
  const cases = [
    [() => cart.add('itm_a', 0), 'qty'],
    [() => cart.add('itm_a', 1.5), 'qty'],
    [() => cart.add('itm_a', '2'), 'qty'],
    [() => cart.add('itm_a', Number.NaN), 'qty'],
    [() => cart.add('itm_a', 1000), 'qty'],
    [() => cart.set('itm_a', -1), 'qty'],
    [() => cart.add('', 1), 'item'],
    [() => cart.add('x'.repeat(129), 1), 'item'],
    [() => cart.add('itm\u0007', 1), 'item'],
    [() => cart.add(42, 1), 'item'],
    [() => cart.add('itm_a', 1, { unitPrice: 1.5 }), 'unit_price'],
    [() => cart.add('itm_a', 1, { unitPrice: '-1' }), 'unit_price'],
    [() => cart.add('itm_a', 1, { unitPrice: '0.1234567' }), 'unit_price'],
    [() => cart.add('itm_a', 1, { colour: 'red' }), 'attrs'],
    [() => cart.add('itm_a', 1, 'cheap'), 'attrs'],
  ];
  for (const [call, field] of cases) {
    await assert.rejects(call(), (e) => e instanceof CartError && e.code === 'invalid_input' && e.field === field,
      `${call} should name ${field}`);
  }
  assert.deepEqual(cart.stateBytes(), before);
  assert.equal(cart.changes().length, 1);
  const { glue } = await loadCore();
  const replica = new glue.CoreReplica();
  for (const bytes of [new Uint8Array(), Uint8Array.from([1, 2, 3]), new TextEncoder().encode('CART\u0001\u00ff')]) {
    assert.throws(() => replica.join(bytes), (e) => e.code === 'invalid_bytes' && e instanceof Error);
  }
  await cart.close();
});
