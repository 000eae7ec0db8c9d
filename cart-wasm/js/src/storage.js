// Where a device keeps its replica: IndexedDB in browsers, memory elsewhere.
//
// A change is reported saved only after its IndexedDB transaction completes with
// `durability: 'strict'` (flushed to disk, not just handed to the OS). Every failure
// (private mode, quota, a closed or deleted database) rejects, and the cart then works
// in memory and says so; see cart.js.

import { CartError } from './errors.js';

const STORE = 'records';

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class IdbStorage {
  static async open(name) {
    const idb = globalThis.indexedDB;
    if (!idb) throw new CartError('storage', 'IndexedDB is not available here');
    const open = idb.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    const db = await new Promise((resolve, reject) => {
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
      open.onblocked = () => reject(new CartError('storage', `IndexedDB ${name} is blocked by another tab's upgrade`));
    });
    const storage = new IdbStorage(name, db);
    db.onclose = () => { storage.db = null; };
    db.onversionchange = () => { db.close(); storage.db = null; };
    return storage;
  }

  constructor(name, db) {
    this.name = name;
    this.db = db;
    this.kind = 'indexeddb';
  }

  async #db() {
    // A closed connection (the user cleared site data, the browser evicted it) is reopened once.
    if (!this.db) this.db = (await IdbStorage.open(this.name)).db;
    return this.db;
  }

  async get(key) {
    const tx = (await this.#db()).transaction(STORE, 'readonly');
    return request(tx.objectStore(STORE).get(key));
  }

  async entries(prefix) {
    const tx = (await this.#db()).transaction(STORE, 'readonly');
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
    const store = tx.objectStore(STORE);
    const [keys, values] = await Promise.all([request(store.getAllKeys(range)), request(store.getAll(range))]);
    return keys.map((key, i) => [key, values[i]]);
  }

  async put(key, value) {
    const tx = (await this.#db()).transaction(STORE, 'readwrite', { durability: 'strict' });
    tx.objectStore(STORE).put(value, key);
    await new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new CartError('storage', 'the IndexedDB transaction was aborted'));
    });
  }

  close() {
    this.db?.close();
    this.db = null;
  }
}

/** Storage that forgets on reload: Node, and browsers without IndexedDB. */
export class MemoryStorage {
  constructor() {
    this.map = new Map();
    this.kind = 'memory';
  }
  async get(key) { return this.map.get(key); }
  async entries(prefix) { return [...this.map].filter(([k]) => k.startsWith(prefix)); }
  async put(key, value) { this.map.set(key, structuredClone(value)); }
  close() {}
}

/** Asks the browser not to evict this origin's storage under pressure (best effort). */
export async function requestPersistence() {
  try {
    return (await globalThis.navigator?.storage?.persist?.()) ?? false;
  } catch {
    return false;
  }
}
