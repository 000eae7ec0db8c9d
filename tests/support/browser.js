// Real Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core,
// launched with the flags of shared/notes/toolchain.md. Every test launches its own browser
// and closes it in `t.after` (also when it fails); `chromium.launch` gives each launch a
// fresh temporary --user-data-dir (playwright refuses the flag itself), and each
// `browser.newContext()` is a device with its own storage. `launchProfile` is the
// persistent form, on a --user-data-dir of the test's own, for tests that need storage on
// disk across a browser restart.
//
// `openDemo` opens the demo page as one device (?devices=<id>) and gives a `DemoDevice`
// that reads the page as a person would (the [data-*] hooks) and the cart behind it
// (window.demo.carts[id]). Page errors and console errors are collected per page; a test
// ends with `watch.assertClean()`, which fails on anything not expected.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { eventually, ROOT, startRegions, WEB_ROOT } from './regions.js';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
export const SCREENSHOTS = join(ROOT, 'target/screenshots');

/** A unique user per test (and per run), so no two tests share a cart on the server. */
export const userFor = (name) => `usr_e2e_${name}_${Date.now()}`;

/**
 * Regions for one test, stopped when it ends. Call it after `launchBrowser`: `t.after`
 * hooks run in the order they were added, and the browser must let go of its event
 * streams first. A region that has not exited 3 s after SIGTERM is killed: with a
 * client's event stream open, sync-server does not finish its graceful shutdown (see
 * tests/browser/README.md).
 */
export async function startCluster(t, names) {
  const cluster = await startRegions(names);
  t.after(async () => {
    await Promise.all(cluster.regions.map(async (region) => {
      if (!region.child || region.child.exitCode !== null || region.child.signalCode !== null) return;
      const timer = setTimeout(() => region.child.kill('SIGKILL'), 3000);
      await region.stop();
      clearTimeout(timer);
    }));
    await cluster.stop();
  });
  return cluster;
}

/** A region crash (kill -9): the store commits before it answers, so nothing acknowledged is lost. */
export async function crash(region) {
  await region.stop('SIGKILL');
}

/** A browser closed when the test ends. */
export async function launchBrowser(t) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  t.after(() => browser.close().catch(() => {}));
  return browser;
}

/**
 * A persistent context on its own fresh --user-data-dir (removed when the test ends).
 * `relaunch()` closes the browser and starts it again on the same profile.
 */
export async function launchProfile(t, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cart-chromium-'));
  let context = null;
  const launch = async () => {
    context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, ...options });
    return context;
  };
  t.after(async () => {
    await context?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  const profile = {
    dir,
    get context() { return context; },
    async relaunch() {
      await context.close();
      return launch();
    },
  };
  await launch();
  return profile;
}

/**
 * Collects page errors and console errors of every page it watches. Expected: a 404 of
 * config.json (the demo reads it when present), of /favicon.ico on pages other than the
 * demo, and, with `network: true`, failed loads
 * and event streams (`net::ERR_...`) of tests that cut the network or stop a region.
 */
export class ErrorWatch {
  constructor() {
    this.seen = [];
  }

  watch(page, label, { network = false } = {}) {
    page.on('pageerror', (error) => this.seen.push({ label, kind: 'pageerror', text: String(error?.stack ?? error) }));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const url = message.location()?.url ?? '';
      const text = message.text();
      if (/status of 404/.test(text) && /\/config\.json(\?|$)/.test(url)) return;
      // Pages that are not the demo (which declares its icon) make the browser ask for one.
      if (/status of 404/.test(text) && /\/favicon\.ico$/.test(url)) return;
      if (network && /net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED|CONNECTION_RESET|EMPTY_RESPONSE|NETWORK_CHANGED|INCOMPLETE_CHUNKED_ENCODING|FAILED)/.test(text)) return;
      if (network && /EventSource/.test(text) && /(ERR_|failed|interrupted)/i.test(text)) return;
      this.seen.push({ label, kind: 'console', text: `${text}${url ? ` (${url})` : ''}` });
    });
    return page;
  }

  assertClean() {
    assert.deepEqual(this.seen.map((e) => `${e.label} ${e.kind}: ${e.text}`), [], 'unexpected page or console errors');
  }
}

/** Saves a full-page screenshot as target/screenshots/<test>-<state>.png. */
export async function shot(page, test, state) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${test}-${state}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The demo's address on `origin` for one device, `regions` in the order given. */
export function demoUrl(origin, { user, device, regions }) {
  const query = new URLSearchParams({ devices: device, user });
  if (regions?.length) query.set('regions', regions.join(','));
  // URLSearchParams would escape the commas and colons; the demo reads either, this is easier to read.
  return `${origin}/?${decodeURIComponent(query.toString())}`;
}

/**
 * Opens the demo as device `device` in `context` (a new page, or `page` if given) and waits
 * until its cart is open. Returns a DemoDevice.
 */
export async function openDemo(context, { origin, user, device, regions, watch, network = false, page = null, label = device }) {
  page ??= await context.newPage();
  watch?.watch(page, label, { network });
  await page.goto(demoUrl(origin, { user, device, regions }));
  const demo = new DemoDevice(page, device, label);
  await demo.ready();
  return demo;
}

/** One device card of the demo page, read through its data-* hooks and its cart. */
export class DemoDevice {
  constructor(page, id, label = id) {
    Object.assign(this, { page, id, label });
    this.card = page.locator(`[data-device="${id}"]`);
  }

  /** Waits for window.demo.ready and fails with the page's own error if it rejected. */
  async ready() {
    const error = await this.page.evaluate(() => window.demo.ready.then(() => null, (e) => String(e?.stack ?? e)));
    assert.equal(error, null, `${this.label}: the demo did not open`);
    assert.equal(await this.page.evaluate((id) => Boolean(window.demo.carts[id]), this.id), true, `${this.label}: no cart`);
  }

  async reload() {
    await this.page.reload();
    await this.ready();
  }

  // --- reading the page --------------------------------------------------------------

  /** The cart as the page shows it: {item id: quantity shown in [data-qty]}. */
  async shown() {
    return this.card.locator('[data-line]').evaluateAll((lines) =>
      Object.fromEntries(lines.map((l) => [l.dataset.line, Number(l.querySelector('[data-qty]').textContent)])));
  }

  /** The total as shown ("£18.65"). */
  totalText() {
    return this.card.locator('[data-total]').textContent();
  }

  /** [data-status]'s data attributes (persisted, connected, regionName). */
  statusData() {
    return this.card.locator('[data-status]').evaluate((el) => ({ ...el.dataset }));
  }

  /** Every change badge: {dot: "replica:counter", stage, text}. */
  badges() {
    return this.card.locator('[data-change]').evaluateAll((els) =>
      els.map((el) => ({ dot: el.dataset.change, stage: el.dataset.stage, text: el.textContent.replace(/\s+/g, ' ').trim() })));
  }

  /** The device card's error box text, or null when it is hidden. */
  errorShown() {
    return this.card.locator('.device-error').evaluate((el) => (el.hidden ? null : el.textContent.replace(/\s+/g, ' ').trim()));
  }

  // --- reading the cart --------------------------------------------------------------

  snapshot() {
    return this.page.evaluate((id) => window.demo.carts[id].snapshot(), this.id);
  }

  status() {
    return this.page.evaluate((id) => window.demo.carts[id].status(), this.id);
  }

  changes() {
    return this.page.evaluate((id) => window.demo.carts[id].changes(), this.id);
  }

  log() {
    return this.page.evaluate((id) => window.demo.carts[id].log(), this.id);
  }

  /** The canonical bytes of the replicated state, hex. */
  stateHex() {
    return this.page.evaluate((id) => Array.from(window.demo.carts[id].stateBytes(), (b) => b.toString(16).padStart(2, '0')).join(''), this.id);
  }

  /** {item id: quantity} from the cart itself. */
  async quantities() {
    const { items } = await this.snapshot();
    return Object.fromEntries(items.map((l) => [l.itemId, l.quantity]));
  }

  // --- acting as a person would --------------------------------------------------------

  /** `how` is 'click' or 'tap'. */
  async press(locator, how = 'click') {
    await (how === 'tap' ? locator.tap() : locator.click());
  }

  addButton(item) { return this.card.locator(`[data-add="${item}"]`); }
  lineButton(item, which) { return this.card.locator(`[data-line="${item}"] [data-${which}]`); }

  async add(item, how) { await this.press(this.addButton(item), how); }
  async inc(item, how) { await this.press(this.lineButton(item, 'inc'), how); }
  async dec(item, how) { await this.press(this.lineButton(item, 'dec'), how); }
  async remove(item, how) { await this.press(this.lineButton(item, 'remove'), how); }

  /** The page's own online switch (cart.setOnline). */
  async setSwitch(online) {
    const input = this.card.locator('[data-online]');
    if (online) await input.check();
    else await input.uncheck();
  }

  /** Picks a region in the [data-region] select by its URL. */
  async pickRegion(url) {
    await this.card.locator('[data-region]').selectOption(url);
  }

  // --- waiting on the page -------------------------------------------------------------

  /** Waits until the page shows exactly `expected` ({item: qty}) and, if given, the total text. */
  async expectShown(expected, total, timeoutMs) {
    await eventually(async () => {
      assert.deepEqual(await this.shown(), expected);
      if (total !== undefined) assert.equal(await this.totalText(), total);
      return true;
    }, `${this.label} to show ${JSON.stringify(expected)}${total ? ` totalling ${total}` : ''}`, timeoutMs);
    // What the page shows is what the cart holds.
    assert.deepEqual(await this.quantities(), expected, `${this.label}: the cart holds what the page shows`);
  }

  /** Waits until `check(await read())` holds; fails with the last value read. */
  async until(read, check, what, timeoutMs) {
    let last;
    try {
      await eventually(async () => check((last = await read())), what, timeoutMs);
    } catch (error) {
      error.message += `; last seen: ${JSON.stringify(last)}`;
      throw error;
    }
    return last;
  }

  /** Waits until every change badge shows `stage` (at least `count` badges). */
  untilBadges(stage, count = 1, timeoutMs) {
    return this.until(() => this.badges(), (b) => b.length >= count && b.every((x) => x.stage === stage),
      `${this.label}: every change ${stage}`, timeoutMs);
  }
}

/** Serves target/web's files for `origin` from disk (a stand-in for a cache or service worker). */
export async function serveWebRootFromDisk(context, origin) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.wasm': 'application/wasm' };
  await context.route(`${origin}/**`, async (route) => {
    const { pathname } = new URL(route.request().url());
    if (pathname.startsWith('/api/') || pathname === '/healthz' || pathname === '/readyz') return route.continue();
    const file = join(WEB_ROOT, pathname === '/' ? 'index.html' : decodeURIComponent(pathname));
    if (!file.startsWith(WEB_ROOT)) return route.fulfill({ status: 404 });
    try {
      return await route.fulfill({ status: 200, contentType: types[extname(file)] ?? 'application/octet-stream', body: readFileSync(file) });
    } catch {
      return route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' });
    }
  });
  return () => context.unroute(`${origin}/**`);
}
