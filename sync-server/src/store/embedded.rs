//! The embedded store: redb, one file, no server.
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

const CARTS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("carts");
const ORDERS: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("orders");
/// `cart_id \n idempotency key` to order id.
const ORDER_KEYS: TableDefinition<'_, &str, &str> = TableDefinition::new("order_keys");
/// The most requests one commit gathers.
const MAX_GROUP: usize = 512;

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

/// Decoded states of the carts the writer has written, newest committed version.
type Cache = Arc<RwLock<HashMap<String, Arc<CartState>>>>;
/// The cache starts over when it holds this many carts.
const CACHE_CARTS: usize = 100_000;

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
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the store writer has stopped".into()))
    }
}

fn decode(cart_id: &str, bytes: &[u8]) -> Result<CartState, StoreError> {
    CartState::from_bytes(bytes).map_err(|e| StoreError::Corrupt {
        key: cart_id.to_owned(),
        why: e.to_string(),
    })
}

/// The writer thread: gather, apply in one transaction, commit, then answer.
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
        let outcome = apply_group(db, cache, &group);
        for (job, answer) in group.into_iter().zip(outcome.into_results()) {
            // A requester that gave up (a dropped receiver) needs no answer.
            let _ = match job {
                Job::Merge { reply, .. } => reply.send(answer.merged()).map(drop).map_err(drop),
                Job::Checkout { reply, .. } => reply.send(answer.order()).map(drop).map_err(drop),
            };
        }
    }
}

enum Answer {
    Merged(Result<Merged, StoreError>),
    Order(Result<Order, StoreError>),
    Failed(StoreError),
}

impl Answer {
    fn merged(self) -> Result<Merged, StoreError> {
        match self {
            Self::Merged(r) => r,
            Self::Failed(e) => Err(e),
            Self::Order(_) => Err(StoreError::Backend("mismatched answer".into())),
        }
    }

    fn order(self) -> Result<Order, StoreError> {
        match self {
            Self::Order(r) => r,
            Self::Failed(e) => Err(e),
            Self::Merged(_) => Err(StoreError::Backend("mismatched answer".into())),
        }
    }
}

enum GroupOutcome {
    Committed(Vec<Answer>),
    Failed(usize, String),
}

impl GroupOutcome {
    fn into_results(self) -> Vec<Answer> {
        match self {
            Self::Committed(answers) => answers,
            Self::Failed(n, why) => (0..n)
                .map(|_| Answer::Failed(StoreError::Backend(why.clone())))
                .collect(),
        }
    }
}

fn apply_group(db: &Database, cache: &Cache, group: &[Job]) -> GroupOutcome {
    let mut written: HashMap<String, Arc<CartState>> = HashMap::new();
    let mut run = || -> Result<Vec<Answer>, StoreError> {
        let txn = db.begin_write().map_err(backend)?;
        let mut answers = Vec::with_capacity(group.len());
        {
            let mut carts = txn.open_table(CARTS).map_err(backend)?;
            let mut orders = txn.open_table(ORDERS).map_err(backend)?;
            let mut keys = txn.open_table(ORDER_KEYS).map_err(backend)?;
            for job in group {
                let answer = match job {
                    Job::Merge { cart_id, delta, .. } => {
                        Answer::Merged(merge_into(&mut carts, cache, &mut written, cart_id, delta))
                    }
                    Job::Checkout {
                        cart_id,
                        delta,
                        order,
                        ..
                    } => {
                        let key = order_key(cart_id, &order.idempotency_key);
                        let existing = keys
                            .get(key.as_str())
                            .map_err(backend)?
                            .map(|v| v.value().to_owned());
                        let result = match existing {
                            Some(id) => match orders.get(id.as_str()).map_err(backend)? {
                                Some(bytes) => {
                                    serde_json::from_slice(bytes.value()).map_err(backend)
                                }
                                None => Err(StoreError::Corrupt {
                                    key,
                                    why: "order key without order".into(),
                                }),
                            },
                            None => merge_into(&mut carts, cache, &mut written, cart_id, delta)
                                .and_then(|_| {
                                    let bytes =
                                        serde_json::to_vec(order.as_ref()).map_err(backend)?;
                                    orders
                                        .insert(order.order_id.as_str(), bytes.as_slice())
                                        .map_err(backend)?;
                                    keys.insert(key.as_str(), order.order_id.as_str())
                                        .map_err(backend)?;
                                    Ok(order.as_ref().clone())
                                }),
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
            GroupOutcome::Committed(answers)
        }
        Err(e) => GroupOutcome::Failed(group.len(), e.to_string()),
    }
}

fn merge_into(
    carts: &mut redb::Table<'_, &str, &[u8]>,
    cache: &Cache,
    written: &mut HashMap<String, Arc<CartState>>,
    cart_id: &str,
    delta: &CartState,
) -> Result<Merged, StoreError> {
    let cached = written.remove(cart_id).or_else(|| {
        cache
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(cart_id)
    });
    let mut state = match cached {
        Some(state) => state,
        None => match carts.get(cart_id).map_err(backend)? {
            Some(bytes) => Arc::new(decode(cart_id, bytes.value())?),
            None => Arc::new(CartState::new()),
        },
    };
    // Cloned only when a reader still holds this version.
    let changed = Arc::make_mut(&mut state).join(delta);
    if changed {
        carts
            .insert(cart_id, state.to_bytes().as_slice())
            .map_err(backend)?;
    }
    written.insert(cart_id.to_owned(), Arc::clone(&state));
    Ok(Merged { state, changed })
}

#[async_trait]
impl CartStore for EmbeddedStore {
    async fn load(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError> {
        if let Some(state) = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(cart_id)
        {
            return Ok(Arc::clone(state));
        }
        let txn = self.db.begin_read().map_err(backend)?;
        let carts = txn.open_table(CARTS).map_err(backend)?;
        match carts.get(cart_id).map_err(backend)? {
            Some(bytes) => decode(cart_id, bytes.value()).map(Arc::new),
            None => Ok(Arc::new(CartState::new())),
        }
    }

    async fn merge(&self, cart_id: &str, delta: CartState) -> Result<Merged, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Merge {
            cart_id: cart_id.to_owned(),
            delta,
            reply,
        })?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store writer stopped mid-request".into()))?
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
        let txn = self.db.begin_read().map_err(backend)?;
        let keys = txn.open_table(ORDER_KEYS).map_err(backend)?;
        let Some(id) = keys
            .get(order_key(cart_id, key).as_str())
            .map_err(backend)?
            .map(|v| v.value().to_owned())
        else {
            return Ok(None);
        };
        drop(keys);
        drop(txn);
        self.order(&id).await
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

    async fn commit_checkout(
        &self,
        cart_id: &str,
        delta: CartState,
        order: Order,
    ) -> Result<Order, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Checkout {
            cart_id: cart_id.to_owned(),
            delta,
            order: Box::new(order),
            reply,
        })?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the store writer stopped mid-request".into()))?
    }
}
