// offline-cart: the cart CRDT of cart-core, compiled to WebAssembly, with persistence
// in IndexedDB and a sync client for the regional sync servers.

/** Every refusal and failure: a real `Error` with a stable `code` and, for bad input, the `field`. */
export class CartError extends Error {
  readonly name: 'CartError';
  /** `invalid_input`, `invalid_bytes`, `no_secure_random`, `panic`, `closed`, `sync_failed`, `storage`... */
  readonly code: string;
  /** The input that was wrong (`qty`, `item`, `unit_price`, `attrs`, ...), when there was one. */
  readonly field?: string;
}

/** Attributes an `add` or `set` writes; omitted fields keep their current values. */
export interface ItemAttrs {
  /** Exact decimal text such as "29.99" (never a JS number: it may already be rounded). */
  unitPrice?: string;
  name?: string;
  imageUrl?: string;
  /** Free-form attributes such as size or colour. */
  attributes?: Record<string, string>;
}

/** One line as the cart shows it. Plain data: `JSON.stringify` prints all of it. */
export interface CartLine {
  itemId: string;
  quantity: number;
  unitPrice: string | null;
  lineTotal: string | null;
  name: string | null;
  imageUrl: string | null;
  attributes: Record<string, string>;
}

/** How far one change has travelled. */
export type Stage = 'pending' | 'saved' | 'accepted' | 'replicated';

/** One change made on this device, newest last. */
export interface Change {
  /** The change's dot: this replica's id and its counter (decimal text; it may pass 2^53). */
  replicaId: string;
  counter: string;
  op: 'add' | 'set' | 'remove' | 'clear' | 'set_item_limit';
  itemId: string | null;
  qty: number | null;
  /** `saved`: durable in this device's storage; `accepted`: stored by a region; `replicated`: held by another region too. */
  stage: Stage;
  /** False when this device could not store it (memory mode). */
  savedOnDevice: boolean;
  acceptedBy: string | null;
  replicatedTo: string[];
  /** When it was made, for display only (never used to merge). */
  at: number;
}

/** One entry of the sync log: a delta sent or received, or a sync event. */
export interface LogEntry {
  at: number;
  direction: 'sent' | 'received' | 'info' | 'error';
  region: string | null;
  bytes: number;
  text: string;
}

export interface CartStatus {
  cartId: string;
  replicaId: string;
  /** True when changes are durable on this device (IndexedDB works); false in memory mode. */
  persisted: boolean;
  /** 'indexeddb' or 'memory'. */
  storage: 'indexeddb' | 'memory';
  /** True when this device's storage was found wiped at open (it resynced under a new replica id). */
  wiped: boolean;
  /** The network switch of this cart and the browser's own online state, together. */
  online: boolean;
  /** The region last synced with (its base URL), if any. */
  region: string | null;
  /** Its name, e.g. "us-west", from its last answer. */
  regionName: string | null;
  /** Changes made here that no region has accepted yet. */
  unsynced: number;
  /** The last sync error, cleared by a successful sync. */
  lastError: string | null;
  /** Everything this replica has seen: `{replicaId: "1-4,7"}` (counters as text). */
  context: Record<string, string>;
}

export interface Snapshot {
  items: CartLine[];
  total: string;
  status: CartStatus;
  changes: Change[];
}

export interface OpenOptions {
  /** The cart on the server, e.g. "cart-usr_12345". */
  cartId: string;
  /** Base URLs of the regional sync servers, any order: the nearest answers first. */
  regions?: string[];
  /**
   * A bearer token for one of this device's replica ids (the storefront's auth issues
   * it). Called for the tab's own id, and for the ids of the device's other tabs whose
   * unsynced changes this tab holds: the region takes a replica's changes only with
   * its token. Throw to refuse an id; that tab then sends its changes itself.
   */
  token?: (replicaId: string) => Promise<string> | string;
  /** 'indexeddb' (the default where it exists) or 'memory'. */
  storage?: 'indexeddb' | 'memory';
  /** IndexedDB database name: one per device profile (default "offline-cart"). */
  dbName?: string;
  /** Listen to the region's event stream for changes from other devices (default true where EventSource exists). */
  live?: boolean;
  /** Anti-entropy period in ms while online (default 20000). */
  syncIntervalMs?: number;
  /** Timeout of one sync request in ms (default 4000). */
  requestTimeoutMs?: number;
  /** Order `regions` by measured round trip, nearest first (default true); false keeps the order given. */
  rankByLatency?: boolean;
}

export class Cart {
  readonly cartId: string;
  add(itemId: string, qty: number, attrs?: ItemAttrs): Promise<Change>;
  set(itemId: string, qty: number, attrs?: ItemAttrs): Promise<Change>;
  remove(itemId: string): Promise<Change>;
  clear(): Promise<Change>;
  items(): CartLine[];
  total(): string;
  status(): CartStatus;
  changes(): Change[];
  log(): LogEntry[];
  snapshot(): Snapshot;
  /** Calls back after every change, local or merged; returns the unsubscribe function. */
  subscribe(onChange: (snapshot: Snapshot) => void): () => void;
  /** One sync round now (with failover); resolves when it is done or failed everywhere. */
  sync(): Promise<boolean>;
  /** This cart's own network switch (the browser's online/offline events apply too). */
  setOnline(online: boolean): void;
  /** Replaces the regional endpoints, kept in the order given (a shopper's or the app's choice) unless `rankByLatency`. */
  setRegions(regions: string[], options?: { rankByLatency?: boolean }): void;
  /** At login: sync this guest cart, have the region add its lines to the account cart, then sync both. */
  mergeInto(account: Cart): Promise<void>;
  /** The canonical bytes of the replicated state (equal states, equal bytes). */
  stateBytes(): Uint8Array;
  /** Sets this cart's per-item quantity limit (default 999). */
  setItemLimit(limit: number): Promise<Change>;
  close(): Promise<void>;
}

export function openCart(options: OpenOptions): Promise<Cart>;

/** Replays one scenario file of the spec through the WebAssembly core. */
export function runScenario(file: string, json: string): Promise<{
  name: string; pass: boolean; replicas: Record<string, Record<string, number>>;
  errors: { step: number; field: string; message: string }[];
  encoded_bytes: Record<string, number>; failures: string[];
  /** Each replica's final canonical encoding, hex. */
  states: Record<string, string>;
}>;

/** The raw bindings of the WebAssembly module (a fresh instance each call), for custom transports and storage. */
export function loadCore(): Promise<{ glue: any; broken: boolean }>;
