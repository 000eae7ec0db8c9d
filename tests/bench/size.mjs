// Gzipped size of what a page downloads to run each CRDT library: the WebAssembly
// module plus its JS glue (pure JS libraries: their ES module). Run by
// scripts/bench-web.sh, which unpacks the peers' npm packages into target/bench/peers.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const [ours, peers] = process.argv.slice(2);

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const gz = (paths) => paths.reduce((n, p) => n + gzipSync(readFileSync(p), { level: 9 }).length, 0);
const raw = (paths) => paths.reduce((n, p) => n + statSync(p).size, 0);

/** The largest .wasm of a package for the web, and the glue JS beside it that loads it. */
function wasmPackage(dir, prefer) {
  const all = files(dir);
  const wasm = all.filter((p) => p.endsWith('.wasm') && (!prefer || p.includes(prefer))).sort((a, b) => statSync(b).size - statSync(a).size)[0];
  const stem = wasm.replace(/_bg\.wasm$/, '').replace(/\.wasm$/, '');
  const glue = all.filter((p) => /\.m?js$/.test(p) && p.startsWith(stem) && !p.endsWith('.d.ts'));
  return [wasm, ...glue.slice(0, 1)];
}

const rows = [
  ['offline-cart (this project)', [join(ours, 'core/cart_wasm_bg.wasm'), join(ours, 'core/cart_wasm.js')]],
  ['offline-cart with its package JS', [join(ours, 'core/cart_wasm_bg.wasm'), join(ours, 'core/cart_wasm.js'), join(ours, 'index.js'), ...files(join(ours, 'src'))]],
  ['@automerge/automerge', wasmPackage(join(peers, '@automerge/automerge'), 'web')],
  ['loro-crdt', wasmPackage(join(peers, 'loro-crdt'), 'web')],
  ['yjs (pure JS, without its lib0 dependency)', [join(peers, 'yjs/dist/yjs.mjs')]],
];
const base = gz(rows[0][1]);
console.log('gzipped (level 9) wasm + JS glue; ratio to offline-cart');
for (const [name, paths] of rows) {
  const size = gz(paths);
  console.log(`${name.padEnd(46)} ${String(raw(paths)).padStart(9)} B raw ${String(size).padStart(8)} B gz   ${(size / base).toFixed(2)}x`);
}
