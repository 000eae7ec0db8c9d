//! The regional Redis cache in front of a store (`serve --cache redis://HOST:PORT`).
//!
//! Cassandra tells no region about writes replicated into it, so this cache never needs
//! telling:
//!
//! - A cart's entry is a Redis list of encoded cart states, each stamped with when the
//!   store gave it; the cached cart is their join, with its causal context. A read serves
//!   it only when that context covers everything the caller has seen
//!   ([`CartStore::load_seen`]) and its newest stamp is within the freshness window;
//!   otherwise it reads through the store and appends the store's cart. A device thus
//!   never receives a cart older than what it has seen, and changes replicated from other
//!   regions reach every reader within the window.
//! - A write goes to the store first, then appends the store's cart to the entry. Appends
//!   never conflict, so servers of one region never lose each other's changes; a reader
//!   that finds several states joins them with cart-core's join (the only merge) and
//!   swaps the ones it joined for their join, keeping any appended meanwhile.
//! - Redis down, slow, flushed, or holding garbage costs hits, never answers: each failure
//!   falls back to the store, logs a warning and counts in the metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use cart_core::{CartState, CausalContext};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{CartStore, Merged, Order, StoreError};

/// What the cache needs to know.
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// How long an entry may be served after the store last gave it: the bound on how
    /// late a change replicated from another region is seen by readers of this one.
    pub fresh_for: Duration,
    /// Prefix of every key, so several deployments can share one Redis.
    pub prefix: String,
}

impl CacheConfig {
    /// A cache at `url` with the defaults: entries fresh for 5 s, keys under `offline-cart:`.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self { url: url.to_owned(), fresh_for: Duration::from_secs(5), prefix: "offline-cart:".to_owned() }
    }
}

/// What the cache has done since it started (also exported as `cart_cache_*` metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Reads served from Redis.
    pub hits: u64,
    /// Reads that found no entry, or no Redis.
    pub misses: u64,
    /// Reads that found an entry behind the caller, expired, or garbage.
    pub stale: u64,
    /// Reads that went to the store (misses and stale ones).
    pub read_throughs: u64,
    /// Redis calls that failed or timed out.
    pub redis_errors: u64,
    /// Compare-and-sets lost to another writer (and retried).
    pub contention: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stale: AtomicU64,
    read_throughs: AtomicU64,
    redis_errors: AtomicU64,
    contention: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// An element's first bytes: format tag (4), checksum (8), stamp in ms since the epoch (8;
/// 0 for a change that is not the store's whole cart), and a nonce (8).
const MAGIC: &[u8; 4] = b"OCC2";
const HEADER: usize = 28;
/// A compaction recognizes the list's first element by this much of it: tag and checksum
/// (the checksum covers the nonce, so no two elements share it).
const TOKEN: usize = 12;
/// A reader swaps the elements for their join from this many on; a writer from twice that.
const COMPACT_AT: usize = 8;
/// A bound on any one Redis call: a slow Redis is a miss, not a slow answer.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failure, Redis is left alone this long (the store answers meanwhile).
const REST_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Redis's clock (seconds, microseconds), then the entry's elements; a key that holds
/// something other than a list reads as one element, [`NOT_A_LIST`].
const READ: &str = r"
local now = redis.call('TIME')
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return {now[1], now[2]} end
if t ~= 'list' then return {now[1], now[2], '!not-a-list'} end
local out = redis.call('LRANGE', KEYS[1], 0, -1)
table.insert(out, 1, now[2])
table.insert(out, 1, now[1])
return out
";
const NOT_A_LIST: &[u8] = b"!not-a-list";

/// Appends ARGV[1] and renews the expiry (ARGV[3] ms). ARGV[2]: '0' only onto an existing
/// list; '1' also creates it, replacing a key that is not a list; '2' also replaces a list
/// whose head still has the token ARGV[4] (garbage the caller read), and otherwise appends.
/// Returns the list's length, or 0 when nothing was appended.
const APPEND: &str = r"
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then
  if ARGV[2] == '0' then return 0 end
elseif t ~= 'list' then
  if ARGV[2] == '0' then return 0 end
  redis.call('DEL', KEYS[1])
elseif ARGV[2] == '2' then
  local head = redis.call('LINDEX', KEYS[1], 0)
  if head and string.sub(head, 1, #ARGV[4]) == ARGV[4] then redis.call('DEL', KEYS[1]) end
end
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n
";

/// Swaps the first ARGV[1] elements for their join ARGV[3], if the list still starts with
/// the element whose token is ARGV[2] (nobody compacted or replaced it since it was read);
/// elements appended meanwhile stay, and so does the key's expiry (the list never empties).
const COMPACT: &str = r"
if redis.call('TYPE', KEYS[1]).ok ~= 'list' then return 0 end
local first = redis.call('LINDEX', KEYS[1], 0)
if (not first) or string.sub(first, 1, #ARGV[2]) ~= ARGV[2] then return 0 end
local n = tonumber(ARGV[1])
if redis.call('LLEN', KEYS[1]) < n then return 0 end
redis.call('LSET', KEYS[1], n - 1, ARGV[3])
redis.call('LTRIM', KEYS[1], n - 1, -1)
return 1
";

/// A store with a Redis cache in front of it.
pub struct RedisCache {
    store: Arc<dyn CartStore>,
    redis: ConnectionManager,
    config: CacheConfig,
    scripts: Scripts,
    /// When Redis failed last: it is not asked again before [`REST_AFTER_FAILURE`].
    failed_at: std::sync::Mutex<Option<Instant>>,
    /// Whether the last call failed, so that a warning is logged once per outage.
    down: AtomicBool,
    counters: Counters,
    /// Redis's clock less this host's, in ms, as of the last read: stamps and freshness
    /// are on Redis's clock, so that servers whose clocks differ agree on them.
    clock_offset_ms: AtomicI64,
}

struct Scripts {
    read: redis::Script,
    append: redis::Script,
    compact: redis::Script,
}

/// The cached cart: the join of the elements, and the newest stamp among them.
struct Entry {
    stamp_ms: u64,
    state: CartState,
}

/// What a key held when read.
enum Held {
    Nothing,
    /// Something that is not an entry of this cart: replaced by the next read-through.
    Garbage(&'static str),
    /// The raw elements, oldest first.
    Elements(Vec<Vec<u8>>),
}

/// How an append treats what the key holds.
enum Append {
    /// A change only: appended to an existing entry, never made into one.
    OntoExisting,
    /// The store's whole cart: creates the entry if missing.
    Whole,
    /// The store's whole cart, replacing garbage whose first element had this token.
    Replacing(Vec<u8>),
}

impl RedisCache {
    /// The cache in front of `store`. Redis is connected on first use, so a server
    /// starts, and serves from its store, while Redis is away.
    ///
    /// # Errors
    /// When the URL is not a Redis URL.
    pub fn new(store: Arc<dyn CartStore>, config: CacheConfig) -> Result<Self, String> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| e.to_string())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1);
        let redis =
            ConnectionManager::new_lazy_with_config(client, manager_config).map_err(|e| e.to_string())?;
        metrics::gauge!("cart_cache_up").set(1.0);
        Ok(Self {
            store,
            redis,
            config,
            scripts: Scripts {
                read: redis::Script::new(READ),
                append: redis::Script::new(APPEND),
                compact: redis::Script::new(COMPACT),
            },
            failed_at: std::sync::Mutex::new(None),
            down: AtomicBool::new(false),
            counters: Counters::default(),
            clock_offset_ms: AtomicI64::new(0),
        })
    }

    /// What the cache has done so far.
    #[must_use]
    pub fn counts(&self) -> CacheCounts {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheCounts {
            hits: get(&c.hits),
            misses: get(&c.misses),
            stale: get(&c.stale),
            read_throughs: get(&c.read_throughs),
            redis_errors: get(&c.redis_errors),
            contention: get(&c.contention),
        }
    }

    /// What Redis holds for a cart: `None` when nothing (or Redis cannot be reached),
    /// else the cached cart, or why it is not one. For tests and operators.
    pub async fn cached(&self, cart_id: &str) -> Option<Result<CartState, &'static str>> {
        match self.read(cart_id).await?.1 {
            Held::Nothing => None,
            Held::Garbage(why) => Some(Err(why)),
            Held::Elements(raw) => Some(view(cart_id, &raw).map(|e| e.state)),
        }
    }

    /// The Redis key of a cart's entry.
    #[must_use]
    pub fn key(&self, cart_id: &str) -> String {
        format!("{}cart:{cart_id}", self.config.prefix)
    }

    fn fresh_ms(&self) -> u64 {
        u64::try_from(self.config.fresh_for.as_millis()).unwrap_or(u64::MAX).max(1)
    }

    /// Whether Redis is being left alone after a failure.
    fn resting(&self) -> bool {
        let failed = self.failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        failed.is_some_and(|at| at.elapsed() < REST_AFTER_FAILURE)
    }

    /// One Redis call, bounded in time; a failure is logged, counted, and returns `None`.
    async fn call<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        if self.resting() {
            metrics::counter!("cart_cache_skipped_total", "op" => op).increment(1);
            return None;
        }
        let outcome = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {CALL_TIMEOUT:?}")),
        };
        match outcome {
            Ok(value) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(url = %self.config.url, "Redis cache reachable again");
                    metrics::gauge!("cart_cache_up").set(1.0);
                }
                Some(value)
            }
            Err(why) => {
                metrics::counter!("cart_cache_redis_errors_total", "op" => op).increment(1);
                bump(&self.counters.redis_errors);
                *self.failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(Instant::now());
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(url = %self.config.url, op, error = %why,
                        "Redis cache failed; serving from the store");
                    metrics::gauge!("cart_cache_up").set(0.0);
                }
                None
            }
        }
    }

    /// Redis's clock in ms (as read at the last read), and what the key holds.
    async fn read(&self, cart_id: &str) -> Option<(u64, Held)> {
        let mut redis = self.redis.clone();
        let invocation = self.scripts.read.key(self.key(cart_id));
        let reply: Vec<Vec<u8>> =
            self.call("read", async move { invocation.invoke_async(&mut redis).await }).await?;
        let number = |i: usize| -> u64 {
            reply.get(i).and_then(|b| std::str::from_utf8(b).ok()).and_then(|t| t.parse().ok()).unwrap_or(0)
        };
        let redis_ms = number(0).saturating_mul(1000).saturating_add(number(1) / 1000);
        let offset = i64::try_from(redis_ms).unwrap_or(i64::MAX).saturating_sub(local_ms());
        self.clock_offset_ms.store(offset, Ordering::Relaxed);
        let elements = reply.get(2..).unwrap_or_default();
        let held = match elements {
            [] => Held::Nothing,
            [only] if only == NOT_A_LIST => Held::Garbage("the key holds something that is not a list"),
            _ => Held::Elements(elements.to_vec()),
        };
        Some((redis_ms, held))
    }

    /// Now on Redis's clock, as far as the last read told.
    fn redis_now_ms(&self) -> u64 {
        let now = local_ms().saturating_add(self.clock_offset_ms.load(Ordering::Relaxed));
        u64::try_from(now).unwrap_or(0)
    }

    /// Appends a state the store gave (or a change it took) to the cart's entry.
    /// `stamp`: when (on Redis's clock) the store was asked for `state`; 0 for a change.
    async fn append(&self, cart_id: &str, state: &CartState, stamp: u64, how: Append) {
        let (mode, garbage) = match how {
            Append::OntoExisting => ("0", Vec::new()),
            Append::Whole => ("1", Vec::new()),
            Append::Replacing(token) => ("2", token),
        };
        let mut redis = self.redis.clone();
        let mut invocation = self.scripts.append.key(self.key(cart_id));
        invocation.arg(encode(cart_id, stamp, state)).arg(mode).arg(self.fresh_ms()).arg(garbage);
        let length: Option<usize> =
            self.call("append", async move { invocation.invoke_async(&mut redis).await }).await;
        if length.is_some_and(|n| n >= COMPACT_AT.saturating_mul(2))
            && let Some((_, Held::Elements(raw))) = self.read(cart_id).await
            && let Ok(entry) = view(cart_id, &raw)
        {
            self.compact(cart_id, &raw, &entry).await;
        }
    }

    /// Swaps the elements read for their join, unless another server did first.
    async fn compact(&self, cart_id: &str, raw: &[Vec<u8>], entry: &Entry) {
        let Some(first) = raw.first() else { return };
        let token = first.get(..TOKEN).unwrap_or(first).to_vec();
        let mut redis = self.redis.clone();
        let mut invocation = self.scripts.compact.key(self.key(cart_id));
        invocation.arg(raw.len()).arg(token).arg(encode(cart_id, entry.stamp_ms, &entry.state));
        let done: Option<i64> =
            self.call("compact", async move { invocation.invoke_async(&mut redis).await }).await;
        if done == Some(0) {
            metrics::counter!("cart_cache_contention_total").increment(1);
            bump(&self.counters.contention);
        }
    }

    /// Reads the store and puts its cart into the entry; `garbage`: the token of the
    /// garbage found there, which it replaces.
    async fn read_through(
        &self,
        cart_id: &str,
        garbage: Option<Vec<u8>>,
    ) -> Result<Arc<CartState>, StoreError> {
        metrics::counter!("cart_cache_read_throughs_total").increment(1);
        bump(&self.counters.read_throughs);
        // Stamped before the store is asked: the state is at least as new as this.
        let stamp = self.redis_now_ms();
        let state = self.store.load(cart_id).await?;
        if !self.resting() {
            let how = garbage.map_or(Append::Whole, Append::Replacing);
            self.append(cart_id, &state, stamp, how).await;
        }
        Ok(state)
    }
}

fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// FNV-1a over the key's cart id, the stamp, the nonce and the state: a value that is not
/// exactly what a server wrote under this key (garbage, truncation, another key's) fails it.
fn checksum(cart_id: &str, stamp_ms: u64, nonce: u64, body: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let len = u64::try_from(cart_id.len()).unwrap_or(u64::MAX).to_be_bytes();
    let fixed = [stamp_ms.to_be_bytes(), nonce.to_be_bytes()];
    for byte in len.iter().chain(cart_id.as_bytes()).chain(fixed.as_flattened()).chain(body) {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn encode(cart_id: &str, stamp_ms: u64, state: &CartState) -> Vec<u8> {
    let body = state.to_bytes();
    let nonce = uuid::Uuid::new_v4().as_u64_pair().0;
    let mut out = Vec::with_capacity(HEADER.saturating_add(body.len()));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&checksum(cart_id, stamp_ms, nonce, &body).to_be_bytes());
    out.extend_from_slice(&stamp_ms.to_be_bytes());
    out.extend_from_slice(&nonce.to_be_bytes());
    out.extend_from_slice(&body);
    out
}

fn decode(cart_id: &str, raw: &[u8]) -> Result<Entry, &'static str> {
    let (header, body) = raw.split_at_checked(HEADER).ok_or("shorter than an element's header")?;
    let word = |at: usize| -> u64 {
        header.get(at..at.saturating_add(8)).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
    };
    if header.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
        return Err("not an element of this format");
    }
    let (sum, stamp_ms, nonce) = (word(4), word(12), word(20));
    if sum != checksum(cart_id, stamp_ms, nonce, body) {
        return Err("checksum mismatch");
    }
    let state = CartState::from_bytes(body).map_err(|_| "the cart does not decode")?;
    Ok(Entry { stamp_ms, state })
}

/// Logs garbage found under a cart's key; the read-through replaces it.
fn garbage(cart_id: &str, why: &'static str) -> &'static str {
    tracing::warn!(cart = %cart_id, why, "garbage under a cart's cache key; replacing it");
    "garbage"
}

/// The cached cart: every element decoded and joined.
fn view(cart_id: &str, raw: &[Vec<u8>]) -> Result<Entry, &'static str> {
    let mut entry = Entry { stamp_ms: 0, state: CartState::new() };
    for element in raw {
        let one = decode(cart_id, element)?;
        entry.stamp_ms = entry.stamp_ms.max(one.stamp_ms);
        entry.state.join(&one.state);
    }
    Ok(entry)
}

#[async_trait]
impl CartStore for RedisCache {
    async fn load(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError> {
        self.store.load(cart_id).await
    }

    async fn load_seen(&self, cart_id: &str, seen: &CausalContext) -> Result<Arc<CartState>, StoreError> {
        let mut garbage_token = None;
        let why = match self.read(cart_id).await {
            None => "unavailable",
            Some((_, Held::Nothing)) => "absent",
            Some((_, Held::Garbage(why))) => {
                garbage_token = Some(NOT_A_LIST.to_vec());
                garbage(cart_id, why)
            }
            Some((redis_ms, Held::Elements(raw))) => match view(cart_id, &raw) {
                Err(why) => {
                    garbage_token = raw.first().map(|first| first.get(..TOKEN).unwrap_or(first).to_vec());
                    garbage(cart_id, why)
                }
                Ok(entry) => {
                    if raw.len() >= COMPACT_AT {
                        self.compact(cart_id, &raw, &entry).await;
                    }
                    if redis_ms.saturating_sub(entry.stamp_ms) >= self.fresh_ms() {
                        "expired"
                    } else if !entry.state.context().includes(seen) {
                        "behind_caller"
                    } else {
                        metrics::counter!("cart_cache_hits_total").increment(1);
                        bump(&self.counters.hits);
                        return Ok(Arc::new(entry.state));
                    }
                }
            },
        };
        if matches!(why, "unavailable" | "absent") {
            metrics::counter!("cart_cache_misses_total", "why" => why).increment(1);
            bump(&self.counters.misses);
        } else {
            metrics::counter!("cart_cache_stale_total", "why" => why).increment(1);
            bump(&self.counters.stale);
        }
        self.read_through(cart_id, garbage_token).await
    }

    async fn merge(&self, cart_id: &str, delta: CartState) -> Result<Merged, StoreError> {
        let stamp = self.redis_now_ms();
        let merged = self.store.merge(cart_id, delta).await?;
        if merged.changed {
            self.append(cart_id, &merged.state, stamp, Append::Whole).await;
        }
        Ok(merged)
    }

    async fn cart_ids(&self) -> Result<Vec<String>, StoreError> {
        self.store.cart_ids().await
    }

    async fn order_for_key(&self, cart_id: &str, key: &str) -> Result<Option<Order>, StoreError> {
        self.store.order_for_key(cart_id, key).await
    }

    async fn order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        self.store.order(order_id).await
    }

    async fn load_for_checkout(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError> {
        self.store.load_for_checkout(cart_id).await
    }

    async fn commit_checkout(
        &self,
        cart_id: &str,
        read: &CartState,
        delta: CartState,
        order: Order,
    ) -> Result<Order, StoreError> {
        let ours = order.order_id.clone();
        let removal = delta.clone();
        let stored = self.store.commit_checkout(cart_id, read, delta, order).await?;
        // Only a checkout that committed this removal may put it into the entry.
        if stored.order_id == ours {
            self.append(cart_id, &removal, 0, Append::OntoExisting).await;
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_round_trips_and_rejects_other_keys_and_damage() {
        let mut replica = cart_core::Replica::new();
        replica.add("itm_1", 2, &cart_core::AttrPatch::new().unit_price("1.25")).unwrap_or_default();
        let raw = encode("cart-u1", 42, replica.state());
        let entry = decode("cart-u1", &raw).map_err(str::to_owned);
        assert_eq!(entry.as_ref().map(|e| e.stamp_ms), Ok(42));
        assert_eq!(entry.map(|e| e.state.to_bytes()), Ok(replica.state().to_bytes()));
        assert_ne!(
            raw.get(..TOKEN),
            encode("cart-u1", 42, replica.state()).get(..TOKEN),
            "tokens are unique"
        );
        assert_eq!(decode("cart-u2", &raw).err(), Some("checksum mismatch"));
        let mut damaged = raw.clone();
        if let Some(last) = damaged.last_mut() {
            *last ^= 1;
        }
        assert_eq!(decode("cart-u1", &damaged).err(), Some("checksum mismatch"));
        assert_eq!(decode("cart-u1", b"hello").err(), Some("shorter than an element's header"));
        assert_eq!(decode("cart-u1", &[0; 40]).err(), Some("not an element of this format"));
    }

    #[test]
    fn the_view_joins_elements_and_keeps_the_newest_stamp() {
        let (mut phone, mut laptop) = (cart_core::Replica::new(), cart_core::Replica::new());
        let a = phone.add("itm_a", 1, &cart_core::AttrPatch::new()).unwrap_or_default();
        let b = laptop.add("itm_b", 2, &cart_core::AttrPatch::new()).unwrap_or_default();
        let view = view("c", &[encode("c", 7, &a), encode("c", 0, &b)]).map_err(str::to_owned);
        assert_eq!(view.as_ref().map(|v| v.stamp_ms), Ok(7));
        assert_eq!(view.map(|v| (v.state.quantity("itm_a"), v.state.quantity("itm_b"))), Ok((1, 2)));
    }
}
