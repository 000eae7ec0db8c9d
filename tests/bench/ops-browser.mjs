// One cart operation in Chromium on a 100-item cart (scripts/bench-web.sh): the core
// operation alone, and a whole `Cart.set` (core, then a strict IndexedDB commit before
// it reports "saved"), against a bare strict IndexedDB put of the same bytes in the
// same page. Chromium coarsens performance.now() to 0.1 ms on pages that are not
// cross-origin isolated, so single-operation times are multiples of 0.1 ms; the mean
// over a batch is exact.

import { chromium } from 'playwright-core';
import { startRegions } from '../support/regions.js';

const N = Number(process.argv[2] ?? 2000);
const cluster = await startRegions(['us-west']);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.goto(`${cluster.urls[0]}/?devices=phone&user=usr_bench&regions=${cluster.urls[0]}`);
  const result = await page.evaluate(async (n) => {
    const { loadCore, openCart } = await import('/pkg/index.js');
    const stats = (times) => {
      const s = [...times].sort((a, b) => a - b);
      const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
      return { p50: at(0.5), p99: at(0.99), mean: times.reduce((a, b) => a + b, 0) / times.length };
    };
    const item = (i) => `itm_${i % 100}`;
    const { glue } = await loadCore();
    const r = new glue.CoreReplica();
    for (let i = 0; i < 100; i++) r.add(item(i), 1, { unitPrice: '2.55', name: `Item ${i}` });
    const core = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      r.set(item(i), 1 + (i % 7), null);
      core.push(performance.now() - t);
    }
    const batch = performance.now();
    for (let i = 0; i < n; i++) r.set(item(i), 1 + (i % 7), null);
    const coreMean = (performance.now() - batch) / n;
    const cart = await openCart({ cartId: 'cart-usr_bench', dbName: `bench-${Date.now()}` });
    for (let i = 0; i < 100; i++) await cart.add(item(i), 1, { unitPrice: '2.55', name: `Item ${i}` });
    cart.setOnline(false);
    const saved = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await cart.set(item(i), 1 + (i % 7));
      saved.push(performance.now() - t);
    }
    const bytes = r.toBytes();
    const db = await new Promise((ok, fail) => {
      const req = indexedDB.open(`bench-peer-${Date.now()}`, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('s');
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
    const bare = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await new Promise((ok, fail) => {
        const tx = db.transaction('s', 'readwrite', { durability: 'strict' });
        tx.objectStore('s').put({ replica: bytes }, 'k');
        tx.oncomplete = ok;
        tx.onerror = fail;
      });
      bare.push(performance.now() - t);
    }
    await cart.close();
    return { core: stats(core), coreMean, saved: stats(saved), bare: stats(bare), ua: navigator.userAgent, bytes: bytes.length };
  }, N);
  const ms = (x) => `${x.toFixed(2)} ms`;
  console.log(`${result.ua.match(/Chrome\/[\d.]+/)[0]}, 100-item cart (${result.bytes} B saved replica)`);
  console.log(`core set, ${N} ops      p50 ${ms(result.core.p50)}  p99 ${ms(result.core.p99)}  mean of a batch ${(result.coreMean * 1000).toFixed(1)} µs`);
  console.log(`Cart.set, saved in IDB   p50 ${ms(result.saved.p50)}  p99 ${ms(result.saved.p99)}`);
  console.log(`bare strict IDB put      p50 ${ms(result.bare.p50)}  p99 ${ms(result.bare.p99)}`);
  console.log(`ratio: Cart.set p50 is ${(result.saved.p50 / result.bare.p50).toFixed(2)}x the bare IndexedDB commit it waits for`);
} finally {
  await browser.close();
  await cluster.stop();
}
