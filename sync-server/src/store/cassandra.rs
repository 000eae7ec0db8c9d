//! The production store: Apache Cassandra, one datacenter per region, replicated by
//! Cassandra itself. The schema, with why it is shaped so, is `schema/cassandra.cql`.
//!
//! Each server process is a writer with its own row in every cart it changes: its whole
//! view of the cart, a cart-core state. A change joins the delta into that view and
//! overwrites the row; a read joins every row of the cart's partition (paged) with
//! cart-core's join. Nothing else merges, and cell timestamps never decide anything
//! between writers: a row has one writer, whose every write contains the one before (its
//! timestamps only order that writer's own versions). So a replayed write changes
//! nothing, clocks that differ between hosts do not matter, and add/remove cycles
//! overwrite one cell instead of leaving tombstones.
//!
//! Rows of writers that have been idle for a while are absorbed: the next write of a
//! cart includes them (it read them) and deletes each at exactly the timestamp it read,
//! so a later write by that writer, if it ever comes, survives.
//!
//! Checkout: the cart is read at QUORUM across datacenters; the order is committed by a
//! lightweight transaction on the cart's `~checkout` row, guarded by an epoch, that also
//! holds the join of every checkout's removal. Two regions checking out the same cart at
//! once: one transaction wins, the other reads again and finds the items gone.

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use cart_core::CartState;
use futures_util::TryStreamExt;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::response::PagingState;
use scylla::statement::batch::{Batch, BatchStatement, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlTimestamp, CqlValue};

use super::{CartStore, Merged, Order, StoreError};
use crate::stripes::Stripes;

/// The schema, as operators read it; the keyspace name and replication are replaced by
/// the configured ones.
pub const SCHEMA: &str = include_str!("../../schema/cassandra.cql");
/// The row of a cart that holds checkouts.
const CHECKOUT_ROW: &str = "~checkout";
/// Rows a page of a cart read holds (rows are whole states; a cart has few writers).
const PAGE_ROWS: i32 = 64;
/// The cache of carts this process has read or written starts over at this size.
const CACHE_CARTS: usize = 100_000;
/// How many times (a second apart) the topology is read before a datacenter is called unknown.
const DC_LOOKUPS: u32 = 5;
/// Lock stripes: one writer's changes to one cart go one at a time.
const STRIPES: usize = 64;

/// How to reach the cluster, and what to create there.
#[derive(Debug, Clone)]
pub struct CassandraConfig {
    /// `host:port` of some nodes; the driver finds the rest.
    pub contact_points: Vec<String>,
    /// This region's datacenter: reads and writes go to it at LOCAL_QUORUM.
    pub local_dc: String,
    /// The keyspace (created when missing).
    pub keyspace: String,
    /// Replication factor per datacenter, for a keyspace this creates.
    pub replication: Vec<(String, u32)>,
    /// Send requests to other datacenters when the local one is down. Off by default:
    /// then a write the local datacenter cannot take is a 503, never acknowledged.
    pub dc_failover: bool,
    /// This region's name, the first part of the writer id.
    pub region: String,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// Writers idle this long have their rows absorbed by the next write of the cart.
    pub absorb_idle_after: Duration,
    /// Added to this host's clock (tests show that skew changes nothing).
    pub clock_offset: Duration,
    /// Whether `clock_offset` is subtracted rather than added.
    pub clock_behind: bool,
}

impl CassandraConfig {
    /// Defaults for a region: keyspace `offline_cart`, one replica in the local datacenter.
    #[must_use]
    pub fn new(contact_points: Vec<String>, local_dc: &str, region: &str) -> Self {
        Self {
            contact_points,
            local_dc: local_dc.to_owned(),
            keyspace: "offline_cart".to_owned(),
            replication: vec![(local_dc.to_owned(), 1)],
            dc_failover: false,
            region: region.to_owned(),
            request_timeout: Duration::from_secs(5),
            absorb_idle_after: Duration::from_secs(3600),
            clock_offset: Duration::ZERO,
            clock_behind: false,
        }
    }
}

/// Replication factors per datacenter, as `--cassandra-replication` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication(pub Vec<(String, u32)>);

impl std::str::FromStr for Replication {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        parse_replication(text).map(Self)
    }
}

/// Parses `us-west:3,eu-central:3` into per-datacenter replication factors.
///
/// # Errors
/// Names the part that is not `datacenter:factor`.
pub fn parse_replication(text: &str) -> Result<Vec<(String, u32)>, String> {
    text.split(',')
        .map(|part| {
            let (dc, factor) =
                part.trim().split_once(':').ok_or_else(|| format!("'{part}' is not DC:FACTOR"))?;
            let factor: u32 =
                factor.parse().map_err(|_| format!("'{part}': the factor must be a whole number"))?;
            if dc.is_empty() || factor == 0 {
                return Err(format!("'{part}': name a datacenter and a factor of at least 1"));
            }
            Ok((dc.to_owned(), factor))
        })
        .collect()
}

/// A cart as this process last saw it.
#[derive(Clone)]
struct View {
    state: Arc<CartState>,
    /// Timestamp of this writer's row (0: none yet).
    own_ts: i64,
    /// Rows of idle writers, with the timestamps read: to absorb at the next write.
    idle: Vec<(String, i64)>,
}

struct Statements {
    rows: PreparedStatement,
    rows_quorum: PreparedStatement,
    upsert: PreparedStatement,
    absorb: PreparedStatement,
    checkout_row: PreparedStatement,
    checkout_first: PreparedStatement,
    checkout_next: PreparedStatement,
    order: PreparedStatement,
    order_key: PreparedStatement,
    insert_order: PreparedStatement,
    insert_order_key: PreparedStatement,
    cart_ids: PreparedStatement,
}

/// The Cassandra store. See the module docs.
pub struct CassandraStore {
    session: Session,
    writer: String,
    statements: Statements,
    cache: Mutex<Cache>,
    stripes: Stripes,
    config: CassandraConfig,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("cassandra: {e}"))
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn corrupt(cart_id: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { key: cart_id.to_owned(), why: e.to_string() }
}

/// The schema's statements for `keyspace` and `replication`.
fn schema_statements(keyspace: &str, replication: &[(String, u32)]) -> Vec<String> {
    let map = replication.iter().map(|(dc, n)| format!("'{dc}': {n}")).collect::<Vec<_>>().join(", ");
    let text: String =
        SCHEMA.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.replace("offline_cart", keyspace);
            match (s.find("'us-west'"), s.rfind('}')) {
                (Some(start), Some(end)) if s.starts_with("CREATE KEYSPACE") => {
                    format!("{}{map}{}", s.get(..start).unwrap_or_default(), s.get(end..).unwrap_or_default())
                }
                _ => s,
            }
        })
        .collect()
}

impl CassandraStore {
    /// Connects, checks the datacenter names, creates the schema when missing and
    /// prepares every statement.
    ///
    /// # Errors
    /// A message naming what is wrong: no node reachable, a datacenter the cluster does
    /// not have (a misspelling stops the server here, not at the first write), a bad
    /// keyspace name.
    pub async fn connect(config: CassandraConfig) -> Result<Self, String> {
        if !config.keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || config.keyspace.is_empty()
            || config.keyspace.len() > 48
        {
            return Err(format!("keyspace '{}': use 1 to 48 letters, digits or _", config.keyspace));
        }
        let policy = DefaultPolicy::builder()
            .prefer_datacenter(config.local_dc.clone())
            .token_aware(true)
            .permit_dc_failover(config.dc_failover)
            .build();
        let profile = ExecutionProfile::builder()
            .load_balancing_policy(policy)
            .consistency(Consistency::LocalQuorum)
            .serial_consistency(Some(SerialConsistency::Serial))
            .request_timeout(Some(config.request_timeout))
            .build();
        let session = SessionBuilder::new()
            .known_nodes(&config.contact_points)
            .connection_timeout(config.request_timeout)
            .default_execution_profile_handle(profile.into_handle())
            .build()
            .await
            .map_err(|e| format!("cannot reach Cassandra at {}: {e}", config.contact_points.join(",")))?;
        // A cluster that is still forming may not list every datacenter yet: look again
        // for a few seconds before calling a name wrong.
        let mut dcs = BTreeSet::new();
        for attempt in 0..DC_LOOKUPS {
            dcs = session
                .get_cluster_state()
                .get_nodes_info()
                .iter()
                .filter_map(|n| n.datacenter.clone())
                .collect();
            let wanted = std::iter::once(&config.local_dc).chain(config.replication.iter().map(|(dc, _)| dc));
            if wanted.into_iter().all(|dc| dcs.contains(dc)) || attempt.saturating_add(1) == DC_LOOKUPS {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            session.refresh_metadata().await.map_err(|e| format!("reading the cluster's topology: {e}"))?;
        }
        let known = dcs.iter().cloned().collect::<Vec<_>>().join(", ");
        if !dcs.contains(&config.local_dc) {
            return Err(format!(
                "local datacenter '{}' is not in this cluster (its datacenters: {known}); check the spelling",
                config.local_dc
            ));
        }
        if let Some((dc, _)) = config.replication.iter().find(|(dc, _)| !dcs.contains(dc)) {
            return Err(format!(
                "replication names datacenter '{dc}', which this cluster lacks (it has: {known})"
            ));
        }
        for statement in schema_statements(&config.keyspace, &config.replication) {
            session
                .query_unpaged(statement.as_str(), ())
                .await
                .map_err(|e| format!("creating the schema: {e}"))?;
        }
        let statements = Statements::prepare(&session, &config.keyspace).await.map_err(|e| e.to_string())?;
        let writer = format!("{}/{}", config.region, uuid::Uuid::new_v4());
        tracing::info!(%writer, dc = %config.local_dc, keyspace = %config.keyspace, "cassandra store ready");
        Ok(Self {
            session,
            writer,
            statements,
            cache: Mutex::new(Cache::default()),
            stripes: Stripes::new(STRIPES),
            config,
        })
    }

    /// This process's writer id (its row in every cart it changes).
    #[must_use]
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// The keyspace this store uses.
    #[must_use]
    pub fn keyspace(&self) -> &str {
        &self.config.keyspace
    }

    /// The driver's session, for tests and benchmarks that write beside the store.
    #[must_use]
    pub fn session(&self) -> &Session {
        &self.session
    }

    fn now_micros(&self) -> i64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let now = if self.config.clock_behind {
            now.saturating_sub(self.config.clock_offset)
        } else {
            now.saturating_add(self.config.clock_offset)
        };
        i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
    }

    fn cached(&self, cart_id: &str) -> Option<View> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).views.get(cart_id).cloned()
    }

    /// The cache's generation: a read notes it before it starts (see [`Cache::keep`]).
    fn generation(&self) -> u64 {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).generation
    }

    /// Keeps what this process now knows of the cart (see [`Cache::keep`]).
    fn remember(&self, cart_id: &str, view: View, read_at: Option<u64>) -> View {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).keep(cart_id, view, read_at)
    }

    /// Reads and joins every row of the cart, page by page (a page per request, no
    /// background pager: most carts are one page).
    async fn read(&self, cart_id: &str, statement: &PreparedStatement) -> Result<View, StoreError> {
        let idle_before = self
            .now_micros()
            .saturating_sub(i64::try_from(self.config.absorb_idle_after.as_micros()).unwrap_or(i64::MAX));
        let mut view = View { state: Arc::new(CartState::new()), own_ts: 0, idle: Vec::new() };
        let state = Arc::make_mut(&mut view.state);
        let mut paging = PagingState::start();
        loop {
            let (result, next) =
                self.session.execute_single_page(statement, (cart_id,), paging).await.map_err(unavailable)?;
            let rows = result.into_rows_result().map_err(backend)?;
            let rows = rows
                .rows::<(String, Option<Vec<u8>>, Option<i64>, Option<CqlTimestamp>)>()
                .map_err(backend)?;
            for row in rows {
                let (writer, bytes, ts, written_at) = row.map_err(backend)?;
                let Some(bytes) = bytes else { continue };
                state.join(&CartState::from_bytes(&bytes).map_err(|e| corrupt(cart_id, e))?);
                let ts = ts.unwrap_or_default();
                if writer == self.writer {
                    view.own_ts = ts;
                } else if writer != CHECKOUT_ROW
                    && written_at.is_some_and(|w| w.0.saturating_mul(1000) < idle_before)
                {
                    view.idle.push((writer, ts));
                }
            }
            match next.into_paging_control_flow() {
                ControlFlow::Continue(state) => paging = state,
                ControlFlow::Break(()) => break,
            }
        }
        Ok(view)
    }

    /// The cart as this process knows it: what it read now, joined with what it had.
    async fn fresh_view(&self, cart_id: &str, statement: &PreparedStatement) -> Result<View, StoreError> {
        let generation = self.generation();
        let view = self.read(cart_id, statement).await?;
        Ok(self.remember(cart_id, view, Some(generation)))
    }

    /// The statement that reads a cart for this process's own use. With failover on, a
    /// write may have been acknowledged by another datacenter while this one was down, so
    /// a local read could miss this writer's own latest row: read at QUORUM then.
    fn rows_statement(&self) -> &PreparedStatement {
        if self.config.dc_failover { &self.statements.rows_quorum } else { &self.statements.rows }
    }

    /// Writes this writer's row (and deletes absorbed rows) in one single-partition batch.
    async fn write_own(
        &self,
        cart_id: &str,
        state: &CartState,
        idle: &[(String, i64)],
        ts: i64,
    ) -> Result<(), StoreError> {
        let written_at = CqlTimestamp(ts / 1000);
        let bytes = state.to_bytes();
        if idle.is_empty() {
            self.session
                .execute_unpaged(&self.statements.upsert, (cart_id, &self.writer, &bytes, written_at, ts))
                .await
                .map_err(unavailable)?;
            return Ok(());
        }
        let mut batch = Batch::new(BatchType::Unlogged);
        batch.append_statement(BatchStatement::PreparedStatement(self.statements.upsert.clone()));
        let mut values: Vec<Vec<CqlValue>> = vec![vec![
            CqlValue::Text(cart_id.to_owned()),
            CqlValue::Text(self.writer.clone()),
            CqlValue::Blob(bytes),
            CqlValue::Timestamp(written_at),
            CqlValue::BigInt(ts),
        ]];
        for (writer, read_ts) in idle {
            batch.append_statement(BatchStatement::PreparedStatement(self.statements.absorb.clone()));
            values.push(vec![
                CqlValue::BigInt(*read_ts),
                CqlValue::Text(cart_id.to_owned()),
                CqlValue::Text(writer.clone()),
            ]);
        }
        batch.set_is_idempotent(true);
        self.session.batch(&batch, values).await.map_err(unavailable)?;
        metrics::counter!("cart_store_absorbed_rows_total").increment(idle.len() as u64);
        Ok(())
    }

    /// The order recorded under `key`, by the key's row. The key and the order are
    /// separate rows, so this datacenter may have the key before the order: that is not
    /// "no order", and the caller must not make another.
    async fn keyed_order(&self, cart_id: &str, key: &str) -> Result<Option<Order>, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.order_key, (cart_id, key))
            .await
            .map_err(unavailable)?;
        let rows = result.into_rows_result().map_err(backend)?;
        let Some((order_id,)) = rows.maybe_first_row::<(String,)>().map_err(backend)? else {
            return Ok(None);
        };
        match self.stored_order(&order_id).await? {
            Some(order) => Ok(Some(order)),
            None => Err(StoreError::Unavailable(format!(
                "order {order_id} of this key has not reached this region yet; retry"
            ))),
        }
    }

    /// The cart's checkout row, read at SERIAL consistency (which finishes any
    /// transaction in progress on it).
    async fn checkout_row(&self, cart_id: &str) -> Result<CheckoutRow, StoreError> {
        let result = self
            .session
            .execute_unpaged(&self.statements.checkout_row, (cart_id,))
            .await
            .map_err(unavailable)?;
        let rows = result.into_rows_result().map_err(backend)?;
        let row =
            rows.maybe_first_row::<(Option<i64>, Option<Vec<u8>>, Option<String>)>().map_err(backend)?;
        let Some((epoch, taken, last)) = row else { return Ok(CheckoutRow::default()) };
        Ok(CheckoutRow {
            epoch,
            taken: taken
                .map(|b| CartState::from_bytes(&b).map_err(|e| corrupt(cart_id, e)))
                .transpose()?
                .unwrap_or_default(),
            last: last.map(|b| serde_json::from_str(&b).map_err(|e| corrupt(cart_id, e))).transpose()?,
        })
    }

    async fn stored_order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        let result =
            self.session.execute_unpaged(&self.statements.order, (order_id,)).await.map_err(unavailable)?;
        let rows = result.into_rows_result().map_err(backend)?;
        let Some((body,)) = rows.maybe_first_row::<(String,)>().map_err(backend)? else {
            return Ok(None);
        };
        serde_json::from_str(&body).map(Some).map_err(|e| corrupt(order_id, e))
    }

    /// Stores an order by id and by key (idempotent: also used to finish an interrupted one).
    async fn record_order(&self, order: &Order) -> Result<(), StoreError> {
        let body = serde_json::to_string(order).map_err(backend)?;
        self.session
            .execute_unpaged(&self.statements.insert_order, (&order.order_id, &order.cart_id, &body))
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.statements.insert_order_key,
                (&order.cart_id, &order.idempotency_key, &order.order_id),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

impl Statements {
    async fn prepare(session: &Session, ks: &str) -> Result<Self, scylla::errors::PrepareError> {
        let prepare = |cql: String, consistency: Consistency, idempotent: bool| async move {
            let mut statement = session.prepare(cql).await?;
            statement.set_consistency(consistency);
            statement.set_is_idempotent(idempotent);
            Ok::<_, scylla::errors::PrepareError>(statement)
        };
        let rows_cql = format!(
            "SELECT writer, state, writetime(state), written_at FROM {ks}.cart_rows WHERE cart_id = ?"
        );
        let mut rows = prepare(rows_cql.clone(), Consistency::LocalQuorum, true).await?;
        rows.set_page_size(PAGE_ROWS);
        let mut rows_quorum = prepare(rows_cql, Consistency::Quorum, true).await?;
        rows_quorum.set_page_size(PAGE_ROWS);
        let mut cart_ids =
            prepare(format!("SELECT DISTINCT cart_id FROM {ks}.cart_rows"), Consistency::LocalQuorum, true)
                .await?;
        cart_ids.set_page_size(1000);
        Ok(Self {
            rows,
            rows_quorum,
            upsert: prepare(
                format!(
                    "INSERT INTO {ks}.cart_rows (cart_id, writer, state, written_at) VALUES (?, ?, ?, ?) \
                     USING TIMESTAMP ?"
                ),
                Consistency::LocalQuorum,
                true,
            )
            .await?,
            absorb: prepare(
                format!("DELETE FROM {ks}.cart_rows USING TIMESTAMP ? WHERE cart_id = ? AND writer = ?"),
                Consistency::LocalQuorum,
                true,
            )
            .await?,
            checkout_row: prepare(
                format!(
                    "SELECT epoch, state, last_order FROM {ks}.cart_rows WHERE cart_id = ? AND writer = '{CHECKOUT_ROW}'"
                ),
                Consistency::Serial,
                true,
            )
            .await?,
            checkout_first: prepare(
                format!(
                    "INSERT INTO {ks}.cart_rows (cart_id, writer, state, epoch, last_order, written_at) \
                     VALUES (?, '{CHECKOUT_ROW}', ?, 1, ?, ?) IF NOT EXISTS"
                ),
                Consistency::Quorum,
                false,
            )
            .await?,
            checkout_next: prepare(
                format!(
                    "UPDATE {ks}.cart_rows SET state = ?, epoch = ?, last_order = ?, written_at = ? \
                     WHERE cart_id = ? AND writer = '{CHECKOUT_ROW}' IF epoch = ?"
                ),
                Consistency::Quorum,
                false,
            )
            .await?,
            order: prepare(
                format!("SELECT body FROM {ks}.orders WHERE order_id = ?"),
                Consistency::LocalQuorum,
                true,
            )
            .await?,
            order_key: prepare(
                format!("SELECT order_id FROM {ks}.order_keys WHERE cart_id = ? AND idempotency_key = ?"),
                Consistency::LocalQuorum,
                true,
            )
            .await?,
            insert_order: prepare(
                format!("INSERT INTO {ks}.orders (order_id, cart_id, body) VALUES (?, ?, ?)"),
                Consistency::Quorum,
                true,
            )
            .await?,
            insert_order_key: prepare(
                format!("INSERT INTO {ks}.order_keys (cart_id, idempotency_key, order_id) VALUES (?, ?, ?)"),
                Consistency::Quorum,
                true,
            )
            .await?,
            cart_ids,
        })
    }
}

/// A cart's `~checkout` row: the transaction epoch, the join of every checkout's
/// removal, and the latest order.
#[derive(Default)]
struct CheckoutRow {
    epoch: Option<i64>,
    taken: CartState,
    last: Option<Order>,
}

/// The carts this process has read or written, and a generation that moves when the
/// cache starts over.
#[derive(Default)]
struct Cache {
    views: HashMap<String, View>,
    generation: u64,
}

impl Cache {
    /// Keeps `view` joined with the view already there, and returns what is kept. A
    /// read (`read_at`: the generation it started in) must never take the cache, and so
    /// this writer's next row, which is built from it, back behind a write: if the cache
    /// started over while the read was under way, the read may predate a write whose
    /// view was dropped, so it is not kept. Writes (`None`) are always kept: each one
    /// contains everything this writer wrote before.
    fn keep(&mut self, cart_id: &str, mut view: View, read_at: Option<u64>) -> View {
        if let Some(known) = self.views.get(cart_id) {
            Arc::make_mut(&mut view.state).join(&known.state);
            view.own_ts = view.own_ts.max(known.own_ts);
        } else if read_at.is_some_and(|g| g != self.generation) {
            return view;
        } else if self.views.len() >= CACHE_CARTS {
            self.views.clear();
            self.generation = self.generation.wrapping_add(1);
        }
        self.views.insert(cart_id.to_owned(), view.clone());
        view
    }
}

/// The `[applied]` column of a lightweight transaction's answer.
fn applied(result: scylla::response::query_result::QueryResult) -> Result<bool, StoreError> {
    let rows = result.into_rows_result().map_err(backend)?;
    let row = rows.first_row::<scylla::value::Row>().map_err(backend)?;
    Ok(matches!(row.columns.first(), Some(Some(CqlValue::Boolean(true)))))
}

#[async_trait]
impl CartStore for CassandraStore {
    async fn load(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError> {
        Ok(self.fresh_view(cart_id, self.rows_statement()).await?.state)
    }

    async fn load_for_checkout(&self, cart_id: &str) -> Result<Arc<CartState>, StoreError> {
        Ok(self.fresh_view(cart_id, &self.statements.rows_quorum).await?.state)
    }

    async fn merge(&self, cart_id: &str, delta: CartState) -> Result<Merged, StoreError> {
        let _guard = self.stripes.lock(cart_id).await;
        let view = match self.cached(cart_id) {
            Some(view) => view,
            None => self.fresh_view(cart_id, self.rows_statement()).await?,
        };
        let mut state = Arc::clone(&view.state);
        if !Arc::make_mut(&mut state).join(&delta) {
            return Ok(Merged { state, changed: false });
        }
        let ts = self.now_micros().max(view.own_ts.saturating_add(1));
        // Kept whether or not the write is known to have landed: a write that timed out
        // may have, and this writer's next row must contain it and come after it (it is a
        // valid state either way; its changes were simply not acknowledged).
        self.remember(cart_id, View { state: Arc::clone(&state), own_ts: ts, idle: Vec::new() }, None);
        self.write_own(cart_id, &state, &view.idle, ts).await?;
        Ok(Merged { state, changed: true })
    }

    async fn cart_ids(&self) -> Result<Vec<String>, StoreError> {
        let pager =
            self.session.execute_iter(self.statements.cart_ids.clone(), ()).await.map_err(unavailable)?;
        let rows = pager.rows_stream::<(String,)>().map_err(backend)?;
        rows.map_ok(|(id,)| id).try_collect().await.map_err(unavailable)
    }

    async fn order_for_key(&self, cart_id: &str, key: &str) -> Result<Option<Order>, StoreError> {
        if let Some(order) = self.keyed_order(cart_id, key).await? {
            return Ok(Some(order));
        }
        // The last checkout's order is also on the checkout row, written by the same
        // transaction: found there even if recording it by key was cut short.
        match self.checkout_row(cart_id).await?.last {
            Some(order) if order.idempotency_key == key => {
                self.record_order(&order).await?;
                Ok(Some(order))
            }
            _ => Ok(None),
        }
    }

    async fn order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        self.stored_order(order_id).await
    }

    async fn commit_checkout(
        &self,
        cart_id: &str,
        read: &CartState,
        delta: CartState,
        order: Order,
    ) -> Result<Order, StoreError> {
        // The key's row; the checkout row, read next, holds the latest order should its
        // recording have been cut short.
        if let Some(existing) = self.keyed_order(cart_id, &order.idempotency_key).await? {
            return Ok(existing);
        }
        let CheckoutRow { epoch, taken, last } = self.checkout_row(cart_id).await?;
        // The row holds only the latest order until it is recorded by id and key; this
        // transaction is about to replace it, so make sure it is recorded first
        // (idempotent: usually it already is).
        if let Some(previous) = last {
            if previous.idempotency_key == order.idempotency_key {
                self.record_order(&previous).await?;
                return Ok(previous);
            }
            self.record_order(&previous).await?;
        }
        // The order was made from `read`: it must already show every checkout so far.
        if read.clone().join(&taken) {
            return Err(StoreError::CheckoutRaced);
        }
        let mut after = taken;
        after.join(&delta);
        let body = serde_json::to_string(&order).map_err(backend)?;
        let now = CqlTimestamp(self.now_micros() / 1000);
        let result = match epoch {
            None => {
                self.session
                    .execute_unpaged(&self.statements.checkout_first, (cart_id, after.to_bytes(), &body, now))
                    .await
            }
            Some(epoch) => {
                self.session
                    .execute_unpaged(
                        &self.statements.checkout_next,
                        (after.to_bytes(), epoch.saturating_add(1), &body, now, cart_id, epoch),
                    )
                    .await
            }
        };
        let won = match result {
            Ok(result) => applied(result)?,
            // A transaction that timed out (contention, a slow replica) may or may not have
            // been applied. A serial read (which finishes any round in progress) says if it
            // was; if not, the caller reads the cart again and tries once more, under the
            // same key. Should the timed-out round still complete later, it would have done
            // so before any newer round on the row: the epoch lets only one through.
            Err(e) => {
                tracing::warn!(cart_id, error = %e, "checkout transaction outcome unknown; reading it back");
                let CheckoutRow { epoch: now_epoch, last, .. } = self.checkout_row(cart_id).await?;
                match last {
                    // Ours, or the same key's order made by another region meanwhile:
                    // either way that order holds for the key.
                    Some(stored) if stored.idempotency_key == order.idempotency_key => {
                        if stored.order_id != order.order_id {
                            self.record_order(&stored).await?;
                            return Ok(stored);
                        }
                        now_epoch == Some(epoch.unwrap_or_default().saturating_add(1))
                    }
                    _ => false,
                }
            }
        };
        if !won {
            metrics::counter!("cart_checkout_races_total").increment(1);
            return Err(StoreError::CheckoutRaced);
        }
        self.record_order(&order).await?;
        Ok(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_takes_the_configured_keyspace_and_replication() {
        let statements = schema_statements("shop_1", &[("dc-a".into(), 3), ("dc-b".into(), 2)]);
        assert_eq!(statements.len(), 4);
        assert_eq!(
            statements.first().map(String::as_str),
            Some(
                "CREATE KEYSPACE IF NOT EXISTS shop_1\n  WITH replication = {'class': 'NetworkTopologyStrategy', \
                 'dc-a': 3, 'dc-b': 2}"
            )
        );
        assert!(statements.iter().skip(1).all(|s| s.contains("shop_1.") && !s.contains("offline_cart")));
    }

    /// A read that started before a write and ends after it must not take the cache
    /// back: the next write of this writer's row is built from it.
    #[test]
    fn a_stale_read_never_takes_the_cache_back() {
        let mut phone = cart_core::Replica::new();
        let stale = phone.add("itm_a", 1, &cart_core::AttrPatch::new()).unwrap();
        phone.add("itm_b", 1, &cart_core::AttrPatch::new()).unwrap();
        let written = View { state: Arc::new(phone.state().clone()), own_ts: 20, idle: Vec::new() };
        let mut cache = Cache::default();
        let started = cache.generation;
        cache.keep("c", written.clone(), None);
        let read = View { state: Arc::new(stale), own_ts: 10, idle: vec![("old/1".into(), 5)] };
        let kept = cache.keep("c", read.clone(), Some(started));
        assert_eq!(kept.state.to_bytes(), phone.state().to_bytes());
        assert_eq!(kept.own_ts, 20);
        assert_eq!(cache.views.get("c").map(|v| v.state.to_bytes()), Some(phone.state().to_bytes()));
        // The cache starts over while a read is under way: the read is not kept.
        cache.views.clear();
        cache.generation = cache.generation.wrapping_add(1);
        cache.keep("c", read, Some(started));
        assert!(!cache.views.contains_key("c"), "a read from before the cache started over was kept");
        cache.keep("c", written, None);
        assert_eq!(cache.views.get("c").map(|v| v.own_ts), Some(20));
    }

    #[test]
    fn replication_flags_are_checked() {
        assert_eq!(
            parse_replication("us-west:3, eu-central:1").unwrap(),
            vec![("us-west".to_owned(), 3), ("eu-central".to_owned(), 1)]
        );
        assert!(parse_replication("us-west").unwrap_err().contains("DC:FACTOR"));
        assert!(parse_replication("us-west:0").is_err());
        assert!(parse_replication("us-west:x").is_err());
    }
}
