// One cart operation on a 100-item cart, with the bytes it sends: offline-cart's core
// against Automerge, Yjs and Loro in the same Node process (scripts/bench-web.sh).
// Each library: 100 items first, then N timed operations that set one item's quantity.

// scripts/bench-web.sh runs it from target/bench, where the packages are installed.
const N = Number(process.argv[2] ?? 5000);
const peer = (name) => import(name);
const { loadCore } = await import('offline-cart');

function stats(times) {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

function timed(setup, op) {
  const state = setup();
  const times = [];
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const start = performance.now();
    bytes += op(state, i);
    times.push((performance.now() - start) * 1000);
  }
  return { ...stats(times), bytes: bytes / N };
}

const item = (i) => `itm_${i % 100}`;
const { glue } = await loadCore();
const A = await peer('@automerge/automerge');
const Y = await peer('yjs');
const L = await peer('loro-crdt');

const rows = [
  ['offline-cart core (wasm)', timed(() => {
    const r = new glue.CoreReplica();
    for (let i = 0; i < 100; i++) r.add(item(i), 1, { unitPrice: '2.55', name: `Item ${i}` });
    return r;
  }, (r, i) => r.set(item(i), 1 + (i % 7), null).length)],
  ['@automerge/automerge', timed(() => {
    let doc = A.from({ cart: {} });
    doc = A.change(doc, (d) => { for (let i = 0; i < 100; i++) d.cart[item(i)] = { qty: 1, price: '2.55', name: `Item ${i}` }; });
    return { doc };
  }, (s, i) => {
    s.doc = A.change(s.doc, (d) => { d.cart[item(i)].qty = 1 + (i % 7); });
    return A.getLastLocalChange(s.doc).length;
  })],
  ['yjs', timed(() => {
    const doc = new Y.Doc();
    const cart = doc.getMap('cart');
    doc.transact(() => { for (let i = 0; i < 100; i++) { const m = new Y.Map(); m.set('qty', 1); m.set('price', '2.55'); m.set('name', `Item ${i}`); cart.set(item(i), m); } });
    const s = { doc, cart, last: 0 };
    doc.on('update', (u) => { s.last = u.length; });
    return s;
  }, (s, i) => { s.cart.get(item(i)).set('qty', 1 + (i % 7)); return s.last; })],
  ['loro-crdt', timed(() => {
    const doc = new L.LoroDoc();
    const cart = doc.getMap('cart');
    for (let i = 0; i < 100; i++) { const m = cart.setContainer(item(i), new L.LoroMap()); m.set('qty', 1); m.set('price', '2.55'); m.set('name', `Item ${i}`); }
    doc.commit();
    return { doc, cart };
  }, (s, i) => {
    const vv = s.doc.oplogVersion();
    s.cart.get(item(i)).set('qty', 1 + (i % 7));
    s.doc.commit();
    return s.doc.export({ mode: 'update', from: vv }).length;
  })],
];
const base = rows[0][1];
console.log(`Node ${process.version}, ${N} operations each on a 100-item cart: set one item's quantity, and the bytes to send`);
for (const [name, r] of rows) {
  console.log(`${name.padEnd(28)} p50 ${r.p50.toFixed(1).padStart(7)} µs  p99 ${r.p99.toFixed(1).padStart(7)} µs  ${r.bytes.toFixed(0).padStart(5)} B/op   p99 ${(r.p99 / base.p99).toFixed(2)}x ours`);
}
