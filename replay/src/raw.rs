//! The peer of P5 (`--raw-cassandra`): the replay's sessions, on the same devices making
//! the same changes, but each change written straight to Cassandra with the scylla driver
//! as the row the Cassandra store would write (the writer's whole cart, at LOCAL_QUORUM,
//! in the customer's home datacenter), with no HTTP, no server and no read. A checkout is
//! the store's lightweight transaction on the order key (SERIAL), then the emptied cart's
//! row. Nothing is checked: this is how fast the database takes the same writes.

use std::time::Instant;

use cart_core::Replica;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use sync_server::store::cassandra::{CassandraConfig, CassandraStore};

use crate::data::{Kind, Session};
use crate::fleet::{Failure, Region, Timings};

const KEYSPACE: &str = "replay_raw";

/// One datacenter's connection and statements.
struct Datacenter {
    store: CassandraStore,
    row: PreparedStatement,
    order_key: PreparedStatement,
}

/// Connections to every region's datacenter (`--region NAME=HOST:PORT`).
pub(crate) struct Raw {
    datacenters: Vec<Datacenter>,
}

impl Raw {
    /// Connects to each region's node, creating the keyspace replicated once per region.
    ///
    /// # Errors
    /// When a node cannot be reached or a statement cannot be prepared.
    pub(crate) async fn connect(regions: &[Region]) -> Result<Self, String> {
        let mut datacenters = Vec::new();
        for region in regions {
            let mut config = CassandraConfig::new(vec![region.url.clone()], &region.name, &region.name);
            KEYSPACE.clone_into(&mut config.keyspace);
            config.replication = regions.iter().map(|r| (r.name.clone(), 1)).collect();
            let store = CassandraStore::connect(config)
                .await
                .map_err(|e| format!("--region {}: {e}", region.name))?;
            let prepare = |cql: String, consistency: Consistency| {
                let session = store.session();
                async move {
                    let mut statement = session.prepare(cql).await.map_err(|e| e.to_string())?;
                    statement.set_consistency(consistency);
                    statement.set_serial_consistency(Some(SerialConsistency::Serial));
                    Ok::<_, String>(statement)
                }
            };
            let row = prepare(
                format!(
                    "INSERT INTO {KEYSPACE}.cart_rows (cart_id, writer, state, written_at) VALUES (?, ?, ?, ?) \
                     USING TIMESTAMP ?"
                ),
                Consistency::LocalQuorum,
            )
            .await?;
            let order_key = prepare(
                format!(
                    "INSERT INTO {KEYSPACE}.order_keys (cart_id, idempotency_key, order_id) VALUES (?, ?, ?) \
                     IF NOT EXISTS"
                ),
                Consistency::Quorum,
            )
            .await?;
            datacenters.push(Datacenter { store, row, order_key });
        }
        Ok(Self { datacenters })
    }

    fn at(&self, region: usize) -> Result<&Datacenter, Failure> {
        self.datacenters.get(region).ok_or_else(|| Failure(format!("no region {region}")))
    }

    /// Writes a device's whole cart as its row in its region.
    async fn write(
        &self,
        region: usize,
        cart: &str,
        device: &mut (Replica, i64),
        timings: &mut Timings,
    ) -> Result<(), Failure> {
        let dc = self.at(region)?;
        device.1 = device.1.saturating_add(1);
        let values = (
            cart,
            device.0.id().to_string(),
            device.0.state().to_bytes(),
            scylla::value::CqlTimestamp(0),
            device.1,
        );
        let started = Instant::now();
        dc.store
            .session()
            .execute_unpaged(&dc.row, values)
            .await
            .map_err(|e| Failure(format!("raw write: {e}")))?;
        timings.record(started.elapsed());
        Ok(())
    }

    /// One customer's sessions, as the replay makes them; returns the lines written.
    ///
    /// # Errors
    /// The first failed write.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn shop(
        &self,
        user: &str,
        home: usize,
        second: bool,
        limit: i64,
        sessions: Vec<Session>,
        rows: &mut Timings,
        checkouts: &mut Timings,
    ) -> Result<u64, Failure> {
        let cart = format!("cart-{user}");
        let away = home.saturating_add(1).checked_rem(self.datacenters.len()).unwrap_or_default();
        let mut devices = vec![((Replica::new(), 0_i64), home)];
        if second {
            devices.push(((Replica::new(), 0), away));
        }
        // The replay's second device learns the raised limit by syncing; here each sets it.
        for ((device, _), _) in &mut devices {
            device.set_item_limit(limit).map_err(|e| Failure(format!("limit: {e}")))?;
        }
        let n = devices.len();
        let mut lines = 0_u64;
        for session in sessions {
            for (i, line) in session.lines.iter().enumerate() {
                let Some((device, region)) = devices.get_mut(i.checked_rem(n).unwrap_or_default()) else {
                    continue;
                };
                let attrs = cart_core::AttrPatch::new().unit_price(line.price.clone());
                device
                    .0
                    .add(&line.item, i64::from(line.qty), &attrs)
                    .map_err(|e| Failure(format!("add: {e}")))?;
                self.write(*region, &cart, device, rows).await?;
            }
            if session.kind == Kind::Cancelled {
                for (i, line) in session.lines.iter().enumerate() {
                    let Some((device, region)) = devices.get_mut(i.checked_rem(n).unwrap_or_default()) else {
                        continue;
                    };
                    if device.0.state().quantity(&line.item) > 0 {
                        device.0.remove(&line.item).map_err(|e| Failure(format!("remove: {e}")))?;
                        self.write(*region, &cart, device, rows).await?;
                    }
                }
            }
            if session.kind == Kind::Order
                && let Some((device, region)) = devices.first_mut()
            {
                let dc = self.at(*region)?;
                let started = Instant::now();
                dc.store
                    .session()
                    .execute_unpaged(&dc.order_key, (&cart, &session.invoice, &session.invoice))
                    .await
                    .map_err(|e| Failure(format!("raw order key: {e}")))?;
                device.0.clear().map_err(|e| Failure(format!("clear: {e}")))?;
                self.write(*region, &cart, device, rows).await?;
                checkouts.record(started.elapsed());
            }
            lines = lines.saturating_add(session.lines.len() as u64);
        }
        Ok(lines)
    }
}
