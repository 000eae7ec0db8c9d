//! The embedded store: redb, one file, no server.
//!
//! A cart is a snapshot (its whole encoded state) plus a short log of the deltas joined
//! since; joining the log into the snapshot gives the cart, because join is commutative,
//! associative and idempotent. A write appends its delta (tens of bytes, not the whole
//! cart); every [`COMPACT_AFTER`] deltas the cart is written whole again and its log is
//! cleared, so the log stays short and nothing grows without bound.
//!
//! All writes go through one writer thread that gathers whatever requests are waiting
//! into one transaction and commits it with an fsync (group commit): each change is
//! durable before it is acknowledged, and the cost of the fsync is shared by every
//! request in the group. The writer also keeps the decoded state of every cart it has
//! written, so hot carts are not decoded on every request; it updates that cache after
//! each commit and before answering, so a reader never sees less than was acknowledged.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use cart_core::CartState;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use super::{CartStore, Merged, Order, StoreError};

/// Cart id to its snapshot.
const CARTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("carts");
/// (cart id, sequence number) to a delta joined after the snapshot.
const DELTAS: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("deltas");
const ORDERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("orders");
/// `cart_id \n idempotency key` to order id.
const ORDER_KEYS: TableDefinition<'_, &str, &str> = TableDefinition::new("order_keys");
/// The most requests one commit gathers.
const MAX_GROUP: usize = 512;
/// A cart's log is folded into a new snapshot once it holds this many deltas.
pub const COMPACT_AFTER: u64 = 64;
/// The cache starts over when it holds this many carts.
const CACHE_CARTS: usize = 100_000;

/// A cart as the writer knows it: the state, and where its log stands.
#[derive(Clone)]
struct Cached {
    state: Arc<CartState>,
    /// The sequence number the next delta gets; the log holds `next_seq - first_seq` deltas.
    next_seq: u64,
    logged: u64,
}

type Cache = Arc<RwLock<HashMap<String, Cached>>>;

enum Job {
    Merge {
        cart_id: String,
        delta: CartState,
        reply: oneshot::Sender<Result<Merged, StoreError>>,
    },
    Checkout {
        cart_id: String,
        delta: CartState,
        order: Box<Order>,
        reply: oneshot::Sender<Result<Order, StoreError>>,
    },
}

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    jobs: mpsc::Sender<Job>,
    cache: Cache,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn order_key(cart_id: &str, key: &str) -> String {
    format!("{cart_id}\n{key}")
}

fn decode(cart_id: &str, bytes: &[u8]) -> Result<CartState, StoreError> {
    CartState::from_bytes(bytes)
        .map_err(|e| StoreError::Corrupt { key: cart_id.to_owned(), why: e.to_string() })
}

/// Reads a cart from its snapshot and log.
fn read_cart(
    carts: &impl ReadableTable<&'static str, &'static [u8]>,
    deltas: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    cart_id: &str,
) -> Result<Cached, StoreError> {
    let mut state = match carts.get(cart_id).map_err(backend)? {
        Some(bytes) => decode(cart_id, bytes.value())?,
        None => CartState::new(),
    };
    let (mut next_seq, mut logged) = (0_u64, 0_u64);
    for entry in deltas.range((cart_id, 0)..=(cart_id, u64::MAX)).map_err(backend)? {
        let (key, bytes) = entry.map_err(backend)?;
        state.join(&decode(cart_id, bytes.value())?);
        next_seq = key.value().1.saturating_add(1);
        logged = logged.saturating_add(1);
    }
    Ok(Cached { state: Arc::new(state), next_seq, logged })
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`.
    ///
    /// # Errors
    /// When the directory or the database file cannot be opened.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(backend)?;
        let db = Arc::new(Database::create(dir.join("carts.redb")).map_err(backend)?);
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(CARTS).map_err(backend)?;
        txn.open_table(DELTAS).map_err(backend)?;
        txn.open_table(ORDERS).map_err(backend)?;
        txn.open_table(ORDER_KEYS).map_err(backend)?;
        txn.commit().map_err(backend)?;
        let (jobs, rx) = mpsc::channel();
        let (writer_db, cache) = (Arc::clone(&db), Cache::default());
        let writer_cache = Arc::clone(&cache);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer(&writer_db, &writer_cache, &rx))
            .map_err(backend)?;
        Ok(Self { db, jobs, cache })
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.jobs.send(job).map_err(|_| StoreError::Unavailable("the store writer has stopped".into()))
    }
}

/// The writer thread: gather, apply in one transaction, commit, update the cache, answer.
fn writer(db: &Database, cache: &Cache, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("cart_store_commit_group_size").record(group.len() as f64);
        let answers = apply_group(db, cache, &group);
        for (job, answer) in group.into_iter().zip(answers) {
            // A requester that gave up (a dropped receiver) needs no answer.
            let _ = match job {
                Job::Merge { reply, .. } => reply.send(answer.merged()).map_err(drop),
                Job::Checkout { reply, .. } => reply.send(answer.order()).map_err(drop),
            };
        }
    }
}

enum Answer {
    Merged(Result<Merged, StoreError>),
    Order(Result<Order, StoreError>),
    Failed(String),
}

impl Answer {
    fn merged(self) -> Result<Merged, StoreError> {
        match self {
            Self::Merged(r) => r,
            Self::Failed(why) => Err(StoreError::Backend(why)),
            Self::Order(_) => Err(StoreError::Backend("mismatched answer".into())),
        }
    }

    fn order(self) -> Result<Order, StoreError> {
        match self {
            Self::Order(r) => r,
            Self::Failed(why) => Err(StoreError::Backend(why)),
            Self::Merged(_) => Err(StoreError::Backend("mismatched answer".into())),
        }
    }
}

struct Tables<'t> {
    carts: redb::Table<'t, &'static str, &'static [u8]>,
    deltas: redb::Table<'t, (&'static str, u64), &'static [u8]>,
}

fn apply_group(db: &Database, cache: &Cache, group: &[Job]) -> Vec<Answer> {
    let mut written: HashMap<String, Cached> = HashMap::new();
    let mut run = || -> Result<Vec<Answer>, StoreError> {
        let txn = db.begin_write().map_err(backend)?;
        let mut answers = Vec::with_capacity(group.len());
        {
            let mut tables = Tables {
                carts: txn.open_table(CARTS).map_err(backend)?,
                deltas: txn.open_table(DELTAS).map_err(backend)?,
            };
            let mut orders = txn.open_table(ORDERS).map_err(backend)?;
            let mut keys = txn.open_table(ORDER_KEYS).map_err(backend)?;
            for job in group {
                let answer = match job {
                    Job::Merge { cart_id, delta, .. } => {
                        Answer::Merged(merge_into(&mut tables, cache, &mut written, cart_id, delta))
                    }
                    Job::Checkout { cart_id, delta, order, .. } => {
                        let key = order_key(cart_id, &order.idempotency_key);
                        let existing = keys.get(key.as_str()).map_err(backend)?.map(|v| v.value().to_owned());
                        let result = match existing {
                            Some(id) => match orders.get(id.as_str()).map_err(backend)? {
                                Some(bytes) => serde_json::from_slice(bytes.value()).map_err(backend),
                                None => {
                                    Err(StoreError::Corrupt { key, why: "order key without order".into() })
                                }
                            },
                            None => {
                                merge_into(&mut tables, cache, &mut written, cart_id, delta).and_then(|_| {
                                    let bytes = serde_json::to_vec(order.as_ref()).map_err(backend)?;
                                    orders
                                        .insert(order.order_id.as_str(), bytes.as_slice())
                                        .map_err(backend)?;
                                    keys.insert(key.as_str(), order.order_id.as_str()).map_err(backend)?;
                                    Ok(order.as_ref().clone())
                                })
                            }
                        };
                        Answer::Order(result)
                    }
                };
                answers.push(answer);
            }
        }
        txn.commit().map_err(backend)?;
        Ok(answers)
    };
    match run() {
        Ok(answers) => {
            let mut cache = cache.write().unwrap_or_else(PoisonError::into_inner);
            if cache.len() > CACHE_CARTS {
                cache.clear();
            }
            cache.extend(written);
            answers
        }
        // Nothing was committed: the cache keeps the committed versions it had.
        Err(e) => group.iter().map(|_| Answer::Failed(e.to_string())).collect(),
    }
}

fn merge_into(
    tables: &mut Tables<'_>,
    cache: &Cache,
    written: &mut HashMap<String, Cached>,
    cart_id: &str,
    delta: &CartState,
) -> Result<Merged, StoreError> {
    let cached = written
        .remove(cart_id)
        .or_else(|| cache.write().unwrap_or_else(PoisonError::into_inner).remove(cart_id));
    let mut cart = match cached {
        Some(cart) => cart,
        None => read_cart(&tables.carts, &tables.deltas, cart_id)?,
    };
    // Cloned only when a reader still holds this version.
    let changed = Arc::make_mut(&mut cart.state).join(delta);
    if changed {
        if cart.logged.saturating_add(1) >= COMPACT_AFTER || cart.next_seq == 0 {
            // A new snapshot, and an empty log.
            tables.carts.insert(cart_id, cart.state.to_bytes().as_slice()).map_err(backend)?;
            let old: Vec<u64> = tables
                .deltas
                .range((cart_id, 0)..=(cart_id, u64::MAX))
                .map_err(backend)?
                .map(|e| e.map(|(k, _)| k.value().1).map_err(backend))
                .collect::<Result<_, _>>()?;
            for seq in old {
                tables.deltas.remove((cart_id, seq)).map_err(backend)?;
            }
            cart.logged = 0;
            cart.next_seq = cart.next_seq.max(1);
        } else {
            tables.deltas.insert((cart_id, cart.next_seq), delta.to_bytes().as_slice()).map_err(backend)?;
            cart.next_seq = cart.next_seq.saturating_add(1);
            cart.logged = cart.logged.saturating_add(1);
        }
    }
    let state = Arc::clone(&cart.state);
    written.insert(cart_id.to_owned(), cart);
    Ok(Merged { state, changed })
}

#[async_trait]
impl CartStore for EmbeddedStore {
    async fn load(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError> {
        if let Some(cart) = self.cache.read().unwrap_or_else(PoisonError::into_inner).get(cart_id) {
            return Ok(Arc::clone(&cart.state));
        }
        let txn = self.db.begin_read().map_err(backend)?;
        let carts = txn.open_table(CARTS).map_err(backend)?;
        let deltas = txn.open_table(DELTAS).map_err(backend)?;
        Ok(read_cart(&carts, &deltas, cart_id)?.state)
    }

    async fn merge(&self, cart_id: &str, delta: CartState) -> Result<Merged, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Merge { cart_id: cart_id.to_owned(), delta, reply })?;
        answer.await.map_err(|_| StoreError::Unavailable("the store writer stopped mid-request".into()))?
    }

    async fn cart_ids(&self) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let carts = txn.open_table(CARTS).map_err(backend)?;
        let mut ids = Vec::new();
        for entry in carts.iter().map_err(backend)? {
            let (key, _) = entry.map_err(backend)?;
            ids.push(key.value().to_owned());
        }
        Ok(ids)
    }

    async fn order_for_key(&self, cart_id: &str, key: &str) -> Result<Option<Order>, StoreError> {
        let id = {
            let txn = self.db.begin_read().map_err(backend)?;
            let keys = txn.open_table(ORDER_KEYS).map_err(backend)?;
            keys.get(order_key(cart_id, key).as_str()).map_err(backend)?.map(|v| v.value().to_owned())
        };
        match id {
            Some(id) => self.order(&id).await,
            None => Ok(None),
        }
    }

    async fn order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let orders = txn.open_table(ORDERS).map_err(backend)?;
        orders
            .get(order_id)
            .map_err(backend)?
            .map(|bytes| serde_json::from_slice(bytes.value()).map_err(backend))
            .transpose()
    }

    /// Checkouts of a cart are serialized by the region (its lock, at the home region)
    /// and by the single writer, so no other checkout can come between the read and this.
    async fn commit_checkout(
        &self,
        cart_id: &str,
        _read: &CartState,
        delta: CartState,
        order: Order,
    ) -> Result<Order, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Checkout { cart_id: cart_id.to_owned(), delta, order: Box::new(order), reply })?;
        answer.await.map_err(|_| StoreError::Unavailable("the store writer stopped mid-request".into()))?
    }
}
