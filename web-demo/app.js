// The offline-cart demo: one cart on several devices (each its own IndexedDB database)
// synced through the regional servers. Plain ES module, no framework, no build step.
//
// Config: ./config.json ({"regions": [{"name", "url"}], "user"}) if it exists, then the
// query: ?regions=URL1,URL2 &user=usr_x &devices=phone,laptop. Default: this page's
// origin as the only region, user usr_demo, both devices.
//
// Hooks for automated tests: window.demo = {carts: {phone, laptop}, ready}; on each card
// [data-device=<id>]: [data-add=<item id>], [data-line=<item id>] with [data-qty],
// [data-inc], [data-dec], [data-remove]; [data-clear], [data-total] (data-value holds the
// exact total), [data-online] (checkbox), [data-region] (select), [data-change=<replica
// id>:<counter>] with data-stage, [data-warning=not-saved], [data-status] (data-persisted,
// data-connected, data-region-name), [data-context], [data-log].

const DEFAULT_USER = 'usr_demo';
const DEFAULT_DEVICES = ['phone', 'laptop'];
const DEVICE_LABELS = { phone: 'Phone', laptop: 'Laptop', tablet: 'Tablet', desktop: 'Desktop' };
const LOG_ENTRIES = 8;
const CHANGE_BADGES = 12;
const REFRESH_MS = 1000;
const TOKEN_TIMEOUT_MS = 5000;
const NAME_TIMEOUT_MS = 3000;

let resolveReady;
let rejectReady;
const ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});
// The page shows every failure itself; tests still see the rejection when they await it.
ready.catch(() => {});
window.demo = { carts: {}, ready };

// ---------------------------------------------------------------------------------------
// Small helpers

const $ = (root, selector) => root.querySelector(selector);

function esc(value) {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

/** Sets innerHTML only when it changed, so an idle refresh touches nothing. */
function setHTML(el, html) {
  if (el._html === html) return;
  el.innerHTML = html;
  el._html = html;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * "2.5" -> "£2.50", "1" -> "£1.00", "0.125" -> "£0.125". Text only: prices are exact
 * decimal strings and never become floats. Decimals beyond the pennies are kept, not rounded.
 */
function money(decimal) {
  if (decimal === null || decimal === undefined) return '—';
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(decimal));
  if (!m) return `£${decimal}`;
  return `£${m[1]}.${(m[2] ?? '').padEnd(2, '0')}`;
}

function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} kB`;
}

function clock(at) {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? '' : d.toTimeString().slice(0, 8);
}

const shortId = (id) => (typeof id === 'string' && id.length > 8 ? id.slice(0, 8) : String(id));

/** A CartError as "code (field): message"; anything else by its message. */
function describeError(err) {
  if (err && typeof err === 'object') {
    const code = err.code ? `${err.code}${err.field ? ` (${err.field})` : ''}: ` : '';
    return `${code}${err.message || String(err)}`;
  }
  return String(err);
}

function showPageError(text) {
  const el = document.getElementById('page-error');
  const p = document.createElement('p');
  p.textContent = text;
  el.append(p);
  el.hidden = false;
}

function label(deviceId) {
  return DEVICE_LABELS[deviceId] ?? deviceId.charAt(0).toUpperCase() + deviceId.slice(1);
}

function withTimeout(ms) {
  return typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(ms) : undefined;
}

// ---------------------------------------------------------------------------------------
// Configuration

function normalizeUrl(text) {
  const url = new URL(String(text).trim(), location.href);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`region ${text}: only http and https URLs`);
  }
  return url.href.replace(/\/+$/, '');
}

async function loadConfig() {
  const params = new URLSearchParams(location.search);
  let file = {};
  const res = await fetch('./config.json', { cache: 'no-store' }).catch(() => null);
  if (res && res.ok) {
    try {
      file = await res.json();
    } catch (err) {
      throw new Error(`config.json is not valid JSON: ${err.message}`);
    }
    if (!file || typeof file !== 'object' || Array.isArray(file)) {
      throw new Error('config.json must hold an object such as {"regions": [...], "user": "usr_demo"}');
    }
  }

  let regions;
  if (params.get('regions')) {
    regions = params
      .get('regions')
      .split(',')
      .filter((u) => u.trim() !== '')
      .map((u) => ({ name: null, url: normalizeUrl(u) }));
  } else if (Array.isArray(file.regions) && file.regions.length > 0) {
    regions = file.regions.map((r, i) => {
      const url = typeof r === 'string' ? r : r?.url;
      if (!url) throw new Error(`config.json: regions[${i}] has no url`);
      return { name: typeof r === 'object' && r.name ? String(r.name) : null, url: normalizeUrl(url) };
    });
  } else {
    regions = [{ name: null, url: normalizeUrl(location.origin) }];
  }
  // The same region twice would only be tried twice.
  regions = regions.filter((r, i) => regions.findIndex((o) => o.url === r.url) === i);

  const user = params.get('user') || (typeof file.user === 'string' && file.user) || DEFAULT_USER;

  let devices = DEFAULT_DEVICES;
  if (params.get('devices')) {
    devices = params
      .get('devices')
      .split(',')
      .map((d) => d.trim().toLowerCase())
      .filter((d) => d !== '');
    const bad = devices.filter((d) => !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(d));
    if (bad.length) throw new Error(`?devices=: not a device id: ${bad.join(', ')} (use ids such as phone, laptop)`);
    devices = devices.filter((d, i) => devices.indexOf(d) === i);
  }
  return { regions, user, cartId: `cart-${user}`, devices };
}

async function loadCatalog() {
  const res = await fetch('./catalog.json');
  if (!res.ok) throw new Error(`catalog.json: HTTP ${res.status}`);
  const catalog = await res.json();
  if (!Array.isArray(catalog.items)) throw new Error('catalog.json has no items');
  return catalog;
}

/** Region names: from the config, else from each server's /healthz, else the host. */
function regionNamer(regions, onNamed) {
  const names = new Map(regions.map((r) => [r.url, r.name]));
  for (const r of regions) {
    if (r.name) continue;
    fetch(`${r.url}/healthz`, { signal: withTimeout(NAME_TIMEOUT_MS) })
      .then((res) => (res.ok ? res.json() : null))
      .then((body) => body?.region)
      .catch(() => null)
      .then((name) => {
        names.set(r.url, name ? String(name) : new URL(r.url).host);
        onNamed();
      });
  }
  return {
    /** The name of a region given its URL (or its name: the package may report either). */
    of(urlOrName) {
      if (urlOrName === null || urlOrName === undefined) return null;
      const key = String(urlOrName).replace(/\/+$/, '');
      if (names.has(key)) return names.get(key) ?? new URL(key).host;
      return String(urlOrName);
    },
    learn(url, name) {
      if (name && names.has(url) && !names.get(url)) {
        names.set(url, String(name));
        onNamed();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------
// One device card

class Device {
  constructor(id, { config, catalog, namer, openCart }) {
    this.id = id;
    this.config = config;
    this.catalog = catalog;
    this.namer = namer;
    this.openCart = openCart;
    // The regions in this device's order, chosen first. The laptop starts on the second
    // region, so that out of the box the two devices show two regions converging.
    const urls = config.regions.map((r) => r.url);
    const home = id === 'laptop' && urls.length > 1 ? 1 : 0;
    this.order = [...urls.slice(home), ...urls.slice(0, home)];
    this.chose = false; // until the shopper picks a region, the select shows the one in use
    this.cart = null;
    this.queue = Promise.resolve();
    this.lineEls = new Map();
    this.inCartEls = new Map();
    this.itemNames = new Map(catalog.items.map((i) => [i.id, i.name]));
    this.el = this.build();
  }

  build() {
    const el = document.getElementById('device-template').content.firstElementChild.cloneNode(true);
    el.dataset.device = this.id;
    el.setAttribute('aria-labelledby', `${this.id}-name`);
    const name = $(el, '.device-name');
    name.id = `${this.id}-name`;
    name.textContent = label(this.id);

    this.onlineInput = $(el, '[data-online]');
    this.onlineInput.setAttribute('aria-label', `${label(this.id)} online`);
    this.regionSelect = $(el, '[data-region]');
    this.regionSelect.setAttribute('aria-label', `${label(this.id)} region`);
    this.fillRegions();

    this.statusEl = $(el, '[data-status]');
    this.errorBox = $(el, '.device-error');
    this.errorText = $(el, '.device-error-text');
    this.linesEl = $(el, '[data-lines]');
    this.emptyEl = $(el, '[data-empty]');
    this.countEl = $(el, '.line-count');
    this.totalEl = $(el, '[data-total]');
    this.factsEl = $(el, '[data-facts]');
    this.changesEl = $(el, '[data-changes]');
    this.contextEl = $(el, '[data-context]');
    this.logEl = $(el, '[data-log]');

    const products = $(el, '[data-catalogue]');
    products.setAttribute('aria-label', `Catalogue on the ${label(this.id)}`);
    for (const item of this.catalog.items) {
      const li = document.createElement('li');
      li.className = 'product';
      li.innerHTML = `<div class="product-text"><span class="product-name">${esc(item.name)}</span>
        <span class="product-meta"><span class="product-price">${esc(money(item.unitPrice))}</span>
        <span class="in-cart" hidden></span></span></div>
        <button type="button" class="btn btn-primary" data-add="${esc(item.id)}"
          aria-label="Add ${esc(item.name)} (${esc(money(item.unitPrice))}) to the cart">Add</button>`;
      this.inCartEls.set(item.id, $(li, '.in-cart'));
      products.append(li);
    }

    el.addEventListener('click', (event) => this.onClick(event));
    this.onlineInput.addEventListener('change', () => this.onOnline());
    this.regionSelect.addEventListener('change', () => this.onRegion());
    return el;
  }

  /** The region select: one option per region (value: its URL, text: its name). */
  fillRegions() {
    const chosen = this.regionSelect.value || this.order[0];
    const html = this.config.regions
      .map((r) => `<option value="${esc(r.url)}" title="${esc(r.url)}">${esc(this.namer.of(r.url))}</option>`)
      .join('');
    if (this.regionSelect._html !== html) {
      this.regionSelect.innerHTML = html;
      this.regionSelect._html = html;
      this.regionSelect.value = chosen;
    }
  }

  // --- opening ---------------------------------------------------------------------

  async open() {
    const { cartId, user } = this.config;
    this.el.classList.add('is-loading');
    try {
      this.cart = await this.openCart({
        cartId,
        regions: [...this.order],
        rankByLatency: false, // on one machine every region is equally near: keep the demo's order
        token: (replicaId) => this.token(replicaId),
        dbName: `offline-cart-demo-${this.id}-${user}`,
      });
    } catch (err) {
      this.showError('Could not open the cart', err);
      this.el.classList.remove('is-loading');
      this.el.classList.add('is-broken');
      throw err;
    }
    this.el.classList.remove('is-loading');
    this.cart.subscribe((snapshot) => this.render(snapshot));
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    return this.cart;
  }

  /** A device token from the first region (in this device's order) that answers. */
  async token(replicaId) {
    const failures = [];
    for (const url of this.order) {
      try {
        const res = await fetch(`${url}/api/v1/demo/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: this.config.user, device: replicaId }),
          signal: withTimeout(TOKEN_TIMEOUT_MS),
        });
        if (!res.ok) {
          const body = await res.json().catch(() => null);
          failures.push(`${this.namer.of(url)}: HTTP ${res.status}${body?.error?.message ? ` ${body.error.message}` : ''}`);
          continue;
        }
        const body = await res.json();
        if (typeof body.token !== 'string') {
          failures.push(`${this.namer.of(url)}: the answer has no token`);
          continue;
        }
        this.namer.learn(url, body.region);
        return body.token;
      } catch (err) {
        failures.push(`${this.namer.of(url)}: ${err.message}`);
      }
    }
    throw new Error(`no region issued a token (${failures.join('; ')})`);
  }

  // --- actions -----------------------------------------------------------------------

  /** Runs cart calls one after another, so two quick clicks on + make two steps. */
  run(what, action) {
    this.queue = this.queue.then(async () => {
      if (!this.cart) return;
      try {
        await action(this.cart);
      } catch (err) {
        this.showError(what, err);
      }
      this.refresh();
    });
    return this.queue;
  }

  quantity(itemId) {
    return this.cart.items().find((line) => line.itemId === itemId)?.quantity ?? 0;
  }

  onClick(event) {
    const button = event.target.closest('button');
    if (!button || !this.el.contains(button)) return;
    if (button.hasAttribute('data-dismiss')) {
      this.errorBox.hidden = true;
      return;
    }
    if (button.dataset.add) {
      const item = this.catalog.items.find((i) => i.id === button.dataset.add);
      this.run(`Add ${item?.name ?? button.dataset.add}`, (cart) =>
        cart.add(button.dataset.add, 1, { unitPrice: item.unitPrice, name: item.name }),
      );
      return;
    }
    if (button.hasAttribute('data-clear')) {
      this.run('Clear the cart', (cart) => cart.clear());
      return;
    }
    const itemId = button.closest('[data-line]')?.dataset.line;
    if (!itemId) return;
    const name = this.itemNames.get(itemId) ?? itemId;
    if (button.hasAttribute('data-inc')) {
      this.run(`Add one more ${name}`, (cart) => cart.set(itemId, this.quantity(itemId) + 1));
    } else if (button.hasAttribute('data-dec')) {
      this.run(`Take one ${name} out`, (cart) => {
        const qty = this.quantity(itemId);
        return qty <= 1 ? cart.remove(itemId) : cart.set(itemId, qty - 1);
      });
    } else if (button.hasAttribute('data-remove')) {
      this.run(`Remove ${name}`, (cart) => cart.remove(itemId));
    }
  }

  onOnline() {
    const online = this.onlineInput.checked;
    this.run(online ? 'Go online' : 'Go offline', (cart) => cart.setOnline(online));
  }

  onRegion() {
    const chosen = this.regionSelect.value;
    this.chose = true;
    this.order = [chosen, ...this.config.regions.map((r) => r.url).filter((u) => u !== chosen)];
    // The cart syncs with the chosen region at once (when online).
    this.run(`Switch to ${this.namer.of(chosen)}`, (cart) => cart.setRegions([...this.order]));
  }

  showError(what, err) {
    console.error(`[${this.id}] ${what}:`, err);
    this.errorText.textContent = `${what} failed: ${describeError(err)}`;
    this.errorBox.hidden = false;
    this.errorBox.dataset.code = err?.code ?? 'error';
  }

  // --- rendering ---------------------------------------------------------------------

  refresh() {
    if (!this.cart) return;
    let snapshot;
    try {
      snapshot = this.cart.snapshot();
    } catch (err) {
      clearInterval(this.timer);
      this.showError('Reading the cart', err);
      return;
    }
    this.render(snapshot);
  }

  render(snapshot) {
    const { items, total, status, changes } = snapshot;
    this.fillRegions();
    // The package measures which region is nearest; show that one until the shopper picks.
    if (!this.chose && status.region && document.activeElement !== this.regionSelect
      && this.config.regions.some((r) => r.url === status.region)) {
      this.regionSelect.value = status.region;
    }
    this.renderStatus(status);
    this.renderLines(items);
    this.totalEl.dataset.value = total;
    setText(this.totalEl, money(total));
    this.renderChanges(changes, status);
    this.renderContext(status);
    let log = [];
    try {
      log = this.cart.log();
    } catch (err) {
      this.showError('Reading the sync log', err);
    }
    this.renderLog(log);
  }

  renderStatus(status) {
    this.el.classList.toggle('is-offline', !status.online);
    this.statusEl.dataset.persisted = String(status.persisted);
    this.statusEl.dataset.connected = String(status.online);
    const region = this.namer.of(status.regionName ?? status.region);
    this.statusEl.dataset.regionName = region ?? '';
    const chips = [
      status.persisted
        ? '<span class="chip chip-ok">Saved on this device</span>'
        : '<span class="chip chip-warn" data-warning="not-saved">Not saved on this device</span>',
      status.online
        ? '<span class="chip chip-ok">Online</span>'
        : '<span class="chip chip-off">Offline</span>',
      `<span class="chip">${region ? `Region ${esc(region)}` : 'No region yet'}</span>`,
      `<span class="chip${status.unsynced ? ' chip-pending' : ''}">${esc(status.unsynced)} unsynced</span>`,
    ];
    setHTML(this.statusEl, chips.join(''));
    setText(this.onlineInput.nextElementSibling, this.onlineInput.checked ? 'Online' : 'Offline');

    setHTML(
      this.factsEl,
      `<dl>
        <div><dt>Replica</dt><dd><code title="${esc(status.replicaId)}">${esc(shortId(status.replicaId))}</code></dd></div>
        <div><dt>Region</dt><dd>${esc(region ?? '—')}</dd></div>
        <div><dt>Unsynced</dt><dd>${esc(status.unsynced)}</dd></div>
        <div><dt>Storage</dt><dd>${esc(status.storage ?? (status.persisted ? 'indexeddb' : 'memory'))}${
          status.wiped ? ' (was wiped)' : ''}</dd></div>
        <div class="wide"><dt>Last error</dt><dd class="${status.lastError ? 'bad' : ''}">${esc(status.lastError ?? 'none')}</dd></div>
      </dl>`,
    );
  }

  renderLines(items) {
    const seen = new Set();
    let previous = null;
    for (const line of items) {
      seen.add(line.itemId);
      let el = this.lineEls.get(line.itemId);
      if (!el) {
        el = this.lineElement(line.itemId);
        this.lineEls.set(line.itemId, el);
      }
      const name = line.name ?? this.itemNames.get(line.itemId) ?? line.itemId;
      setText($(el, '.line-name'), name);
      setText($(el, '.line-each'), line.unitPrice === null ? 'no price' : `${money(line.unitPrice)} each`);
      setText($(el, '[data-qty]'), String(line.quantity));
      setText($(el, '.line-total'), money(line.lineTotal));
      $(el, '[data-dec]').setAttribute('aria-label', `One less ${name}`);
      $(el, '[data-inc]').setAttribute('aria-label', `One more ${name}`);
      $(el, '[data-remove]').setAttribute('aria-label', `Remove ${name}`);
      const next = previous ? previous.nextElementSibling : this.linesEl.firstElementChild;
      if (el !== next) this.linesEl.insertBefore(el, next);
      previous = el;
    }
    for (const [itemId, el] of this.lineEls) {
      if (!seen.has(itemId)) {
        el.remove();
        this.lineEls.delete(itemId);
      }
    }
    for (const [itemId, badge] of this.inCartEls) {
      const qty = items.find((l) => l.itemId === itemId)?.quantity ?? 0;
      badge.hidden = qty === 0;
      setText(badge, qty ? `${qty} in cart` : '');
    }
    this.emptyEl.hidden = items.length > 0;
    const units = items.reduce((n, l) => n + l.quantity, 0);
    setText(this.countEl, items.length ? `(${units} item${units === 1 ? '' : 's'})` : '');
  }

  lineElement(itemId) {
    const li = document.createElement('li');
    li.className = 'line';
    li.dataset.line = itemId;
    li.innerHTML = `<div class="line-text"><span class="line-name"></span><span class="line-each"></span></div>
      <div class="stepper" role="group">
        <button type="button" class="btn btn-step" data-dec>−</button>
        <span class="qty" data-qty aria-live="polite"></span>
        <button type="button" class="btn btn-step" data-inc>+</button>
      </div>
      <span class="line-total"></span>
      <button type="button" class="btn btn-quiet btn-remove" data-remove>Remove</button>`;
    return li;
  }

  renderChanges(changes, status) {
    if (!changes.length) {
      setHTML(this.changesEl, '<li class="muted">No changes made on this device yet.</li>');
      return;
    }
    const shown = changes.slice(-CHANGE_BADGES).reverse();
    const html = shown.map((c) => {
      const item = c.itemId ? c.itemId.replace(/^itm_/, '') : '';
      const what = {
        add: `add ${item} +${c.qty ?? ''}`,
        set: `set ${item} → ${c.qty ?? ''}`,
        remove: `remove ${item}`,
        clear: 'clear',
      }[c.op] ?? `${c.op} ${item}`;
      const acceptedBy = this.namer.of(c.acceptedBy);
      const replicatedTo = (c.replicatedTo ?? []).map((r) => this.namer.of(r));
      const stage = {
        pending: 'pending',
        saved: 'saved on this device',
        accepted: `accepted by ${acceptedBy ?? 'a region'}`,
        replicated: `replicated to ${replicatedTo.join(', ') || 'another region'}`,
      }[c.stage] ?? c.stage;
      const title = [
        `${c.op}${c.itemId ? ` ${this.itemNames.get(c.itemId) ?? c.itemId}` : ''}`,
        `dot ${shortId(c.replicaId)}:${c.counter}`,
        clock(c.at),
        acceptedBy ? `accepted by ${acceptedBy}` : null,
        replicatedTo.length ? `replicated to ${replicatedTo.join(', ')}` : null,
      ].filter(Boolean).join(' · ');
      const warn = !c.savedOnDevice || !status.persisted
        ? '<span class="badge-warn" data-warning="not-saved">not saved on this device</span>'
        : '';
      return `<li class="change stage-${esc(c.stage)}" data-change="${esc(c.replicaId)}:${esc(c.counter)}"
        data-stage="${esc(c.stage)}" title="${esc(title)}"><span class="change-op">${esc(what)}</span>
        <span class="change-stage">${esc(stage)}</span>${warn}</li>`;
    });
    if (changes.length > shown.length) {
      html.push(`<li class="muted">and ${changes.length - shown.length} earlier</li>`);
    }
    setHTML(this.changesEl, html.join(''));
  }

  renderContext(status) {
    const entries = Object.entries(status.context ?? {}).sort(([a], [b]) =>
      a === status.replicaId ? -1 : b === status.replicaId ? 1 : a < b ? -1 : a > b ? 1 : 0,
    );
    const html = entries.length
      ? entries
          .map(
            ([replica, ranges]) => `<li><code title="${esc(replica)}">${esc(shortId(replica))}</code>${
              replica === status.replicaId ? ' <span class="you">this device</span>' : ''
            } <span class="arrow" aria-hidden="true">→</span> <code class="ranges">${esc(ranges)}</code></li>`,
          )
          .join('')
      : '<li class="muted">Nothing seen yet.</li>';
    setHTML(this.contextEl, html);
  }

  renderLog(log) {
    const shown = log.slice(-LOG_ENTRIES).reverse();
    const arrows = { sent: '↑ sent', received: '↓ received', info: '• info', error: '⚠ error' };
    const html = shown.length
      ? shown
          .map(
            (e) => `<li class="log-${esc(e.direction)}"><time>${esc(clock(e.at))}</time>
              <span class="log-dir">${esc(arrows[e.direction] ?? e.direction)}</span>
              ${e.region ? `<span class="log-region">${esc(this.namer.of(e.region))}</span>` : ''}
              ${e.bytes ? `<span class="log-bytes">${esc(bytes(e.bytes))}</span>` : ''}
              <span class="log-text">${esc(e.text)}</span></li>`,
          )
          .join('')
      : '<li class="muted">No sync yet.</li>';
    setHTML(this.logEl, html);
  }
}

// ---------------------------------------------------------------------------------------
// The page

async function main() {
  let config;
  try {
    config = await loadConfig();
  } catch (err) {
    showPageError(`Configuration: ${err.message}`);
    throw err;
  }

  const summary = document.getElementById('config-summary');
  const devices = [];
  const namer = regionNamer(config.regions, () => {
    showSummary();
    for (const d of devices) d.fillRegions();
  });
  function showSummary() {
    const regions = config.regions.map((r) => `${namer.of(r.url)} (${new URL(r.url).host})`).join(', ');
    summary.textContent = `Shopper ${config.user} · cart ${config.cartId} · regions: ${regions}`;
  }
  showSummary();

  const [catalogResult, pkgResult] = await Promise.allSettled([loadCatalog(), import('./pkg/index.js')]);
  let catalog = { items: [] };
  if (catalogResult.status === 'fulfilled') {
    catalog = catalogResult.value;
    if (catalog.source) document.getElementById('citation').textContent = catalog.source;
  } else {
    showPageError(`The catalogue did not load: ${catalogResult.reason.message}`);
  }
  if (pkgResult.status === 'rejected') {
    showPageError(`The offline-cart package (./pkg/index.js) did not load: ${describeError(pkgResult.reason)}`);
    throw pkgResult.reason;
  }
  const { openCart } = pkgResult.value;

  const container = document.getElementById('devices');
  container.classList.toggle('single', config.devices.length === 1);
  for (const id of config.devices) {
    const device = new Device(id, { config, catalog, namer, openCart });
    devices.push(device);
    container.append(device.el);
  }

  const opened = await Promise.allSettled(devices.map((d) => d.open()));
  opened.forEach((result, i) => {
    if (result.status === 'fulfilled') window.demo.carts[devices[i].id] = result.value;
  });
  const failed = opened.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  if (catalogResult.status === 'rejected') throw catalogResult.reason;
}

main().then(
  () => resolveReady(window.demo),
  (err) => rejectReady(err),
);
