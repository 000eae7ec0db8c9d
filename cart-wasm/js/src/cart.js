// A shopper's cart on one device: cart-core's replica, saved before it is reported
// saved, synced with the regions, and live across tabs.
//
// Data takes one path: an operation runs in cart-core (WebAssembly), the replica is
// saved in IndexedDB, then its delta goes to the other tabs and, by the sync protocol,
// to a region. Nothing here interprets a cart: JavaScript moves bytes and keeps
// bookkeeping (how far each change has travelled).
//
// When storage fails, a change cannot be made under the device's saved replica id: a
// later page load would mint its counter again. So the change is undone there and
// made instead under a fresh in-memory replica id, and the cart says it is not saved
// on this device. Once storage answers again and a region holds the memory replica's
// changes, the saved replica takes them in and the cart is back on the device.

import { CartError } from './errors.js';
import { guard, loadCore } from './core.js';
import { Regions } from './regions.js';
import { IdbStorage, MemoryStorage, requestPersistence } from './storage.js';
import { holdSlot, tabChannel } from './tabs.js';

const MAX_CHANGES = 200;
/** The most sibling tokens one sync request carries (the region's limit). */
const MAX_SIBLINGS = 16;
const MAX_LOG = 100;
const EMPTY = new Uint8Array();

export class Cart {
  #o; #core; #storage; #slot; #key; #channel; #regions;
  #replica; #mode = 'device'; #saved = null; #snapshot = null; #parkedSlot = null;
  #changes = []; #log = []; #regionContexts = {}; #listeners = new Set(); #tokens = new Map(); #siblings = new Set();
  #queue = Promise.resolve(); #recovering = Promise.resolve();
  #online = true; #closed = false; #region = null; #regionName = null; #lastError = null; #wiped = false;
  #syncing = null; #again = false; #failures = 0; #kickTimer = null; #interval = null; #followUps = 0;
  #events = null; #eventsUrl = null; #eventsTimer = null; #onNetwork = () => this.#networkChanged();

  static async open(options) {
    if (!options || typeof options.cartId !== 'string' || options.cartId === '') {
      throw new CartError('invalid_input', 'openCart needs a cartId such as "cart-usr_12345"', { field: 'cartId' });
    }
    const cart = new Cart(options);
    await cart.#open();
    return cart;
  }

  constructor(options) {
    this.#o = {
      regions: [], storage: globalThis.indexedDB ? 'indexeddb' : 'memory', dbName: 'offline-cart',
      live: typeof globalThis.EventSource === 'function', syncIntervalMs: 20000, requestTimeoutMs: 4000,
      rankByLatency: true, ...options,
    };
    this.cartId = options.cartId;
  }

  async #open() {
    const o = this.#o;
    this.#core = await loadCore();
    this.#storage = o.storage === 'memory' ? new MemoryStorage() : await IdbStorage.open(o.dbName).catch((e) => {
      this.#note('error', null, 0, `storage unavailable (${e?.message ?? e}): working in memory`);
      return null;
    });
    if (this.#storage?.kind === 'indexeddb') requestPersistence();
    const lockName = `offline-cart:${o.dbName}:${this.cartId}`;
    this.#slot = await holdSlot(lockName);
    this.#key = `cart:${this.cartId}:slot:${this.#slot.index}`;
    const records = this.#storage ? await this.#storage.entries(`cart:${this.cartId}:slot:`).catch(() => null) : null;
    const mine = records?.find(([key]) => key === this.#key)?.[1];
    const { CoreReplica } = this.#core.glue;
    this.#replica = this.#call(() => (mine ? CoreReplica.fromBytes(mine.replica) : new CoreReplica()));
    if (mine) {
      this.#changes = mine.changes ?? [];
      this.#regionContexts = mine.regionContexts ?? {};
    }
    // Other tabs' slots (open or not): their changes are this device's too.
    for (const [key, record] of records ?? []) {
      if (key === this.#key) continue;
      this.#call(() => {
        const other = CoreReplica.fromBytes(record.replica);
        try {
          this.#replica.join(other.stateBytes());
          this.#siblings.add(other.replicaId);
        } finally { other.free(); }
      });
    }
    this.#wiped = this.#checkWiped(lockName, records);
    if (!this.#storage || !(await this.#save())) this.#enterMemoryMode('storage unavailable');
    // Tabs share a device's storage; carts given memory storage share nothing.
    this.#channel = o.storage === 'memory' ? tabChannel(null) : tabChannel(lockName, (delta, from) => this.#fromTab(delta, from));
    this.#regions = new Regions({ urls: o.regions, timeoutMs: o.requestTimeoutMs, rankByLatency: o.rankByLatency });
    globalThis.addEventListener?.('online', this.#onNetwork);
    globalThis.addEventListener?.('offline', this.#onNetwork);
    this.#interval = setInterval(() => this.#kick(), o.syncIntervalMs);
    this.#interval.unref?.(); // in Node, an open cart alone does not keep the process alive
    this.#networkChanged();
  }

  /** A marker outside IndexedDB tells a wiped store from a new device. */
  #checkWiped(lockName, records) {
    const marker = `${lockName}:had-records`;
    let wiped = false;
    try {
      const store = globalThis.localStorage;
      if (!store || records === null) return false;
      wiped = records.length === 0 && store.getItem(marker) === '1';
      store.setItem(marker, '1');
    } catch {
      return false;
    }
    if (wiped) this.#note('info', null, 0, 'this device\'s storage was wiped: resyncing under a new replica id');
    return wiped;
  }

  // --- operations -------------------------------------------------------------------

  add(itemId, qty, attrs) { return this.#mutate('add', itemId, qty, (r) => r.add(itemId, qty, attrs ?? null)); }
  set(itemId, qty, attrs) { return this.#mutate('set', itemId, qty, (r) => r.set(itemId, qty, attrs ?? null)); }
  remove(itemId) { return this.#mutate('remove', itemId, null, (r) => r.remove(itemId)); }
  clear() { return this.#mutate('clear', null, null, (r) => r.clear()); }
  setItemLimit(limit) { return this.#mutate('set_item_limit', null, limit, (r) => r.setItemLimit(limit)); }

  #mutate(op, itemId, qty, fn) {
    return this.#exclusive(async () => {
      if (typeof itemId !== 'string' && (op === 'add' || op === 'set' || op === 'remove')) {
        throw new CartError('invalid_input', 'itemId must be a string such as "itm_shirt123"', { field: 'item' });
      }
      const change = (await this.#make(op, itemId, qty, fn)) ?? (this.#enterMemoryMode('storage failed'), await this.#make(op, itemId, qty, fn));
      this.#kick();
      return { ...change };
    });
  }

  /** Makes one change; null when it could not be saved (it is undone then). */
  async #make(op, itemId, qty, fn) {
    const replicaId = this.#replica.replicaId;
    const counter = this.#replica.nextCounter;
    const delta = this.#call(() => fn(this.#replica));
    const change = {
      replicaId, counter, op, itemId: itemId ?? null, qty: qty ?? null, stage: 'pending',
      savedOnDevice: false, acceptedBy: null, replicatedTo: [], at: Date.now(),
    };
    this.#changes.push(change);
    this.#changes.splice(0, Math.max(0, this.#changes.length - MAX_CHANGES));
    if (this.#mode === 'device') {
      // The stage goes into the record being written: once the write succeeds it is
      // true, and a reload reads it back as it was. A failed write undoes the change.
      if (this.#storage.kind === 'indexeddb') {
        change.savedOnDevice = true;
        change.stage = 'saved';
      }
      if (!(await this.#save())) {
        this.#changes.pop();
        this.#restore(this.#saved);
        return null;
      }
    } else {
      this.#snapshot = this.#replica.toBytes();
      this.#scheduleProbe();
    }
    this.#channel.post(delta, replicaId);
    this.#emit();
    return change;
  }

  // --- reading ----------------------------------------------------------------------

  items() { return this.#call(() => this.#replica.items()); }
  total() { return this.#call(() => this.#replica.total()); }
  stateBytes() { return this.#call(() => this.#replica.stateBytes()); }
  changes() { return this.#changes.map((c) => ({ ...c, replicatedTo: [...c.replicatedTo] })); }
  log() { return this.#log.map((e) => ({ ...e })); }

  status() {
    return {
      cartId: this.cartId,
      replicaId: this.#replica.replicaId,
      persisted: this.#mode === 'device' && this.#storage.kind === 'indexeddb',
      storage: this.#mode === 'device' ? this.#storage.kind : 'memory',
      wiped: this.#wiped,
      online: this.#isOnline(),
      region: this.#region,
      regionName: this.#regionName,
      unsynced: this.#changes.filter((c) => c.stage === 'pending' || c.stage === 'saved').length,
      lastError: this.#lastError,
      context: this.#call(() => this.#replica.context()),
    };
  }

  snapshot() {
    return { items: this.items(), total: this.total(), status: this.status(), changes: this.changes() };
  }

  subscribe(onChange) {
    this.#listeners.add(onChange);
    return () => this.#listeners.delete(onChange);
  }

  #emit() {
    if (this.#listeners.size === 0) return;
    const snapshot = this.snapshot();
    for (const listener of this.#listeners) {
      try { listener(snapshot); } catch (error) { queueMicrotask(() => { throw error; }); }
    }
  }

  // --- network ----------------------------------------------------------------------

  setOnline(online) {
    this.#online = Boolean(online);
    this.#networkChanged();
  }

  setRegions(regions, { rankByLatency = false } = {}) {
    this.#regions.set(regions, { rankByLatency });
    this.#region = null;
    this.#connectEvents();
    this.#kick();
  }

  #isOnline() { return this.#online && globalThis.navigator?.onLine !== false; }

  #networkChanged() {
    if (this.#closed) return;
    if (this.#isOnline()) {
      this.#note('info', null, 0, 'online');
      this.#failures = 0;
      this.#kick();
      this.#connectEvents();
    } else {
      this.#note('info', null, 0, 'offline: changes are kept on this device');
      this.#events?.close();
      this.#events = null;
    }
    this.#emit();
  }

  /** Runs a sync round now; true when a region answered. */
  async sync() {
    await this.#syncing;
    return this.#runSync();
  }

  #kick(delay = 0) {
    if (this.#closed || !this.#isOnline() || this.#kickTimer || this.#regions.urls.length === 0) return;
    this.#kickTimer = setTimeout(() => { this.#kickTimer = null; this.#runSync(); }, delay);
  }

  #runSync() {
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      let ok = false;
      do {
        this.#again = false;
        if (!this.#isOnline() || this.#closed || this.#regions.urls.length === 0) return false;
        try {
          await this.#syncRound();
          ok = true;
          this.#failures = 0;
          this.#lastError = null;
        } catch (error) {
          ok = false;
          this.#failures++;
          this.#lastError = error.message;
          this.#note('error', null, 0, error.message);
          const backoff = Math.min(30000, 250 * 2 ** this.#failures) * (0.5 + Math.random());
          this.#kick(backoff);
          this.#emit();
          return false;
        }
      } while (this.#again);
      return ok;
    })().finally(() => { this.#syncing = null; });
    return this.#syncing;
  }

  async #syncRound(retried = false) {
    const replica = this.#replica;
    const replicaId = replica.replicaId;
    const sentNext = BigInt(replica.nextCounter);
    let sent = 0;
    let result;
    try {
      result = await this.#regions.request(`/api/v1/carts/${encodeURIComponent(this.cartId)}/sync`, async (url) => {
        const body = this.#call(() => replica.syncRequest(this.#regionContexts[url] ?? EMPTY));
        sent = body.length;
        const headers = { 'content-type': 'application/octet-stream', authorization: `Bearer ${await this.#token(replicaId)}` };
        const siblings = await this.#siblingTokens(replica);
        if (siblings.length > 0) headers['cart-sibling-tokens'] = siblings.join(',');
        return { method: 'POST', headers, body };
      });
    } catch (error) {
      if (error.code === 'unauthenticated' && !retried) {
        this.#tokens.clear(); // its own or a sibling's: fetch them all again
        return this.#syncRound(true);
      }
      throw error;
    }
    const { url, response } = result;
    const bytes = new Uint8Array(await response.arrayBuffer());
    await this.#exclusive(async () => {
      const outcome = this.#call(() => this.#replica.applySyncResponse(bytes));
      this.#regionContexts[url] = outcome.regionContext;
      this.#region = url;
      this.#regionName = outcome.acceptedBy;
      this.#note('sent', outcome.acceptedBy, sent, `sync request to ${outcome.acceptedBy}`);
      this.#note('received', outcome.acceptedBy, bytes.length, outcome.changed ? 'changes from the region' : 'nothing new');
      const waiting = this.#advance(outcome, replicaId, sentNext);
      if (this.#mode === 'device') await this.#save();
      else this.#scheduleProbe();
      this.#emit();
      // The region replicates in the background: ask again shortly to learn how far it got.
      if (waiting && this.#followUps < 5) {
        this.#followUps++;
        this.#kick(400 * this.#followUps);
      } else if (!waiting) {
        this.#followUps = 0;
      }
      if (this.#events === null || this.#eventsUrl !== url) this.#connectEvents();
    });
  }

  /** Moves each change along its stages from a region's answer; true while some await replication. */
  #advance(outcome, replicaId, sentNext) {
    const upTo = new Map();
    let waiting = false;
    for (const change of this.#changes) {
      if (!upTo.has(change.replicaId)) {
        upTo.set(change.replicaId, BigInt(this.#call((g) => g.seenUpTo(outcome.regionContext, change.replicaId))));
      }
      const counter = BigInt(change.counter);
      if (counter <= upTo.get(change.replicaId) && (change.stage === 'pending' || change.stage === 'saved')) {
        change.stage = 'accepted';
        change.acceptedBy = outcome.acceptedBy;
      }
      if (change.replicaId === replicaId && counter < sentNext && change.stage !== 'pending' && change.stage !== 'saved'
        && outcome.replicatedTo.length > 0) {
        change.stage = 'replicated';
        change.replicatedTo = [...outcome.replicatedTo];
      }
      if (change.stage === 'accepted') waiting = true;
    }
    return waiting;
  }

  /**
   * Tokens of this device's other replica ids (its other tabs, and ids it worked under
   * before) whose changes this replica holds. The region takes another replica's
   * changes from a device only with that replica's token: without them, two tabs that
   * heard each other's changes before syncing would each be refused until the other
   * synced, and neither would.
   */
  async #siblingTokens(replica) {
    const held = Object.keys(this.#call(() => replica.context()));
    const ids = held.filter((id) => id !== replica.replicaId && this.#siblings.has(id)).slice(-MAX_SIBLINGS);
    const tokens = [];
    for (const id of ids) {
      try {
        tokens.push(await this.#token(id));
      } catch {
        // The storefront would not vouch for it: sync without; that tab sends its own.
      }
    }
    return tokens;
  }

  async #token(replicaId) {
    if (!this.#tokens.has(replicaId)) {
      if (typeof this.#o.token !== 'function') {
        throw new CartError('no_token', 'openCart needs a token function to sync with a region', { field: 'token' });
      }
      this.#tokens.set(replicaId, await this.#o.token(replicaId));
    }
    return this.#tokens.get(replicaId);
  }

  /** Live updates: the region's event stream says when another device changed the cart. */
  async #connectEvents() {
    this.#events?.close();
    this.#events = null;
    clearTimeout(this.#eventsTimer);
    if (!this.#o.live || this.#closed || !this.#isOnline()) return;
    const url = this.#region ?? this.#regions.order[0];
    if (!url) return;
    let token;
    try {
      token = await this.#token(this.#replica.replicaId);
    } catch {
      return;
    }
    if (this.#events || this.#closed || !this.#isOnline()) return;
    this.#eventsUrl = url;
    const events = new EventSource(`${url}/api/v1/carts/${encodeURIComponent(this.cartId)}/events?access_token=${encodeURIComponent(token)}`);
    this.#events = events;
    events.addEventListener('ready', () => this.#kick());
    events.addEventListener('change', (event) => {
      let context = null;
      try { context = JSON.parse(event.data).context; } catch { /* a malformed event: sync to be sure */ }
      let seen = false;
      try {
        seen = context ? this.#call(() => this.#replica.hasSeen(context)) : false;
      } catch {
        // Not a context this build reads: sync, which is always safe.
      }
      this.#note('info', null, event.data.length, seen ? 'change event: nothing new' : 'change event: syncing');
      if (!seen) this.#kick();
    });
    events.onerror = () => {
      if (events.readyState !== EventSource.CLOSED) return; // the browser reconnects by itself
      if (this.#events === events) this.#events = null;
      this.#eventsTimer = setTimeout(() => this.#connectEvents(), 2000);
    };
  }

  // --- storage ----------------------------------------------------------------------

  async #save() {
    const record = { replica: this.#replica.toBytes(), changes: this.#changes, regionContexts: this.#regionContexts };
    try {
      await this.#storage.put(this.#key, record);
      this.#saved = record.replica;
      return true;
    } catch (error) {
      this.#lastError = `not saved on this device: ${error?.message ?? error}`;
      return false;
    }
  }

  #enterMemoryMode(why) {
    if (this.#mode === 'memory') return;
    this.#parkedSlot = this.#saved;
    const { CoreReplica } = this.#core.glue;
    const fresh = this.#call(() => new CoreReplica());
    this.#call(() => fresh.join(this.#replica.stateBytes()));
    this.#siblings.add(this.#replica.replicaId);
    this.#replica.free();
    this.#replica = fresh;
    this.#mode = 'memory';
    this.#snapshot = fresh.toBytes();
    this.#note('error', null, 0, `${why}: not saved on this device; working in memory as replica ${fresh.replicaId}`);
    this.#emit();
  }

  /** Queues a storage probe behind the operations already waiting (it may swap the replica). */
  #scheduleProbe() {
    if (this.#mode === 'memory') this.#exclusive(() => this.#probeStorage()).catch(() => {});
  }

  /** In memory mode: back to the device once storage answers and a region holds the memory replica's changes. */
  async #probeStorage() {
    if (this.#mode !== 'memory' || this.#o.storage === 'memory') return;
    const own = this.#replica.replicaId;
    if (this.#changes.some((c) => c.replicaId === own && (c.stage === 'pending' || c.stage === 'saved'))) return;
    try {
      this.#storage ??= await IdbStorage.open(this.#o.dbName);
      const record = await this.#storage.get(this.#key);
      const saved = record?.replica ?? this.#parkedSlot;
      const { CoreReplica } = this.#core.glue;
      const back = this.#call(() => (saved ? CoreReplica.fromBytes(saved) : new CoreReplica()));
      this.#call(() => back.join(this.#replica.stateBytes()));
      const memory = this.#replica;
      this.#siblings.add(memory.replicaId);
      this.#replica = back;
      this.#mode = 'device';
      if (!(await this.#save())) {
        this.#replica = memory;
        this.#mode = 'memory';
        back.free();
        return;
      }
      memory.free();
      this.#note('info', null, 0, 'storage works again: changes are saved on this device');
      this.#emit();
    } catch {
      // Still failing; the next change or sync tries again.
    }
  }

  #restore(bytes) {
    const { CoreReplica } = this.#core.glue;
    const restored = this.#call(() => CoreReplica.fromBytes(bytes));
    this.#replica.free();
    this.#replica = restored;
  }

  #fromTab(delta, from) {
    if (from) this.#siblings.add(from);
    this.#exclusive(async () => {
      if (this.#call(() => this.#replica.join(delta))) {
        this.#note('received', null, delta.length, 'change from another tab');
        if (this.#mode === 'device') await this.#save();
        this.#emit();
        this.#kick();
      }
    }).catch((error) => this.#note('error', null, 0, `a delta from another tab was refused: ${error.message}`));
  }

  // --- plumbing ---------------------------------------------------------------------

  /** Calls into the core; after a panic, a fresh instance takes over from the last saved state. */
  #call(fn) {
    try {
      return guard(this.#core, fn);
    } catch (error) {
      if (error.code === 'panic') this.#recovering = this.#recover();
      throw error;
    }
  }

  async #recover() {
    const core = await loadCore();
    const bytes = this.#mode === 'device' ? this.#saved : this.#snapshot;
    this.#core = core;
    this.#replica = bytes ? core.glue.CoreReplica.fromBytes(bytes) : new core.glue.CoreReplica();
    this.#note('error', null, 0, 'cart-core panicked; reloaded from the last saved state');
    this.#emit();
  }

  /** Runs `fn` after every earlier operation on this cart, never two at once. */
  #exclusive(fn) {
    const run = this.#queue.then(async () => {
      await this.#recovering;
      if (this.#closed) throw new CartError('closed', 'this cart was closed');
      return fn();
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  #note(direction, region, bytes, text) {
    this.#log.push({ at: Date.now(), direction, region, bytes, text });
    this.#log.splice(0, Math.max(0, this.#log.length - MAX_LOG));
  }

  /** For the package's tests: panics inside the core, to check the trap path. */
  async __panicForTests(message) {
    try {
      this.#call((g) => g.debugPanic(message));
    } finally {
      await this.#recovering;
    }
  }

  /** At login: this guest cart's lines join the account cart at the region, then both sync. */
  async mergeInto(account) {
    if (!(account instanceof Cart)) throw new CartError('invalid_input', 'mergeInto needs the account Cart', { field: 'account' });
    if (!(await this.sync())) throw new CartError('sync_failed', `the guest cart could not reach a region: ${this.#lastError}`);
    const guestToken = await this.#token(this.#replica.replicaId);
    const accountToken = await account.#token(account.#replica.replicaId);
    await account.#regions.request('/api/v1/cart/merge', async () => ({
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accountToken}` },
      body: JSON.stringify({ guest_token: guestToken }),
    }));
    await account.sync();
    await this.sync();
  }

  async close() {
    await this.#exclusive(async () => {
      this.#closed = true;
    });
    clearInterval(this.#interval);
    clearTimeout(this.#kickTimer);
    clearTimeout(this.#eventsTimer);
    this.#events?.close();
    this.#channel.close();
    globalThis.removeEventListener?.('online', this.#onNetwork);
    globalThis.removeEventListener?.('offline', this.#onNetwork);
    await this.#syncing;
    this.#slot.release();
    this.#storage?.close();
  }
}
