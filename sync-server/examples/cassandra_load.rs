//! The Cassandra store under load, side by side with the raw driver, and the replication
//! lag between regions: `scripts/bench-cassandra.sh` starts a three-datacenter cluster on
//! loopback and runs this against it:
//! `cargo run --release -p sync-server --example cassandra_load -- [SECONDS] [CONNECTIONS] [ROUNDS]`
//! with `CART_BENCH_NODES=us-west-node:9042,eu-central-node:9042`.
//!
//! 1. Cart changes through the sync server (HTTP, token, decode, join, the store's write
//!    at LOCAL_QUORUM), CONNECTIONS devices each on its own cart, closed loop; then the
//!    same rows (each device's cart state after each change, as the store writes it) sent
//!    straight to Cassandra with the scylla driver by the same number of clients. Rounds
//!    alternate; the median ratio is the figure.
//! 2. Replication lag: a change acknowledged by us-west, then eu-central's store read
//!    until it shows the change (every 2 ms), 200 times.
//!
//! Carts fill with 21 lines, the mean of an Online Retail II invoice (Chen, D. (2019),
//! UCI ML Repository, CC BY 4.0), then clear.

// A measuring harness, not product code.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cart_core::{AttrPatch, Replica, SyncRequest};
use harness::{Run, closed_loop, http, median};
use sync_server::store::CartStore;
use sync_server::store::cassandra::{CassandraConfig, CassandraStore};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod harness;

const SECRET: &str = "load-test-secret-of-32-bytes....";
const ITEMS: u64 = 21;
const REGIONS: [&str; 3] = ["us-west", "eu-central", "ap-southeast"];

/// A device with its changes made in advance: (sync request, the cart's state after it).
#[derive(Default)]
struct Device {
    token: String,
    cart: String,
    changes: std::collections::VecDeque<(Vec<u8>, Vec<u8>)>,
}

/// A device's next change: an add, or a clear after ITEMS adds. Returns the sync request
/// and the device's whole state after it (the row the store will write).
fn next_change(replica: &mut Replica, n: u64) -> (Vec<u8>, Vec<u8>) {
    let step = n % (ITEMS + 1);
    let delta = if step == ITEMS {
        replica.clear()
    } else {
        replica.add(&format!("itm_{step}"), 1, &AttrPatch::new().unit_price("2.55"))
    }
    .unwrap_or_default();
    let request = SyncRequest { context: replica.context().clone(), delta }.to_bytes();
    (request, replica.state().to_bytes())
}

async fn store(node: &str, dc: &str, keyspace: &str) -> CassandraStore {
    let mut config = CassandraConfig::new(vec![node.to_owned()], dc, dc);
    config.keyspace = keyspace.to_owned();
    config.replication = REGIONS.iter().map(|dc| ((*dc).to_owned(), 1)).collect();
    CassandraStore::connect(config).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let seconds = args.first().copied().unwrap_or(10);
    let connections = usize::try_from(args.get(1).copied().unwrap_or(32)).unwrap_or(32);
    let rounds = usize::try_from(args.get(2).copied().unwrap_or(3)).unwrap_or(3).max(1);
    let nodes = std::env::var("CART_BENCH_NODES").unwrap_or_else(|_| "127.0.0.1:9042,127.0.0.2:9042".into());
    let nodes: Vec<&str> = nodes.split(',').collect();
    let keyspace = format!("bench_{}", std::process::id());

    let west = Arc::new(store(nodes[0], "us-west", &keyspace).await);
    let central = store(nodes[1], "eu-central", &keyspace).await;
    let state =
        sync_server::build("us-west", west.clone(), &[], SECRET).unwrap_or_else(|e| panic!("{}", e.message));
    let auth = state.auth.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sync_server::app::app(state)).await });
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();
    let mut insert = west
        .session()
        .prepare(format!(
            "INSERT INTO {keyspace}.cart_rows (cart_id, writer, state, written_at) VALUES (?, ?, ?, ?) USING TIMESTAMP ?"
        ))
        .await
        .unwrap();
    insert.set_consistency(scylla::statement::Consistency::LocalQuorum);
    insert.set_is_idempotent(true);

    println!(
        "{connections} clients, {seconds} s each, {ITEMS}-line carts; a 3-datacenter cluster on loopback"
    );
    let mut ratios = Vec::new();
    // Round 0 warms Cassandra's JIT and caches up; it is shown but not counted.
    for round in 0..=rounds {
        println!(
            "{}",
            if round == 0 { "warm-up round (not counted)".to_owned() } else { format!("round {round}") }
        );
        // Every device makes its changes before the clock starts, as devices do on their own CPUs.
        let prepared = |base: usize| -> Vec<Device> {
            (0..connections)
                .map(|i| {
                    let mut replica = Replica::new();
                    let user = format!("bench{}", base + i);
                    let token = auth.issue(&user, Some(replica.id()), 3600).unwrap_or_default();
                    let changes = (1..=8_000 * seconds / connections as u64)
                        .map(|n| next_change(&mut replica, n))
                        .collect();
                    Device { token, cart: format!("cart-{user}"), changes }
                })
                .collect()
        };
        let devices = std::sync::Mutex::new(prepared(round * 2 * connections));
        let mut through = closed_loop(seconds, connections, |i| {
            let (c, url) = (client.clone(), url.clone());
            let Device { token, cart, mut changes } = std::mem::take(&mut devices.lock().unwrap()[i]);
            Box::new(move || {
                let (body, _) = changes.pop_front().unwrap_or_default();
                http(
                    c.post(format!("{url}/api/v1/carts/{cart}/sync"))
                        .bearer_auth(&token)
                        .header("content-type", "application/octet-stream")
                        .body(body),
                )
            })
        })
        .await;
        let (server_rate, _) = through.report("cart changes through the sync server");

        let rows = std::sync::Mutex::new(prepared(round * 2 * connections + connections));
        let mut raw = closed_loop(seconds, connections, |i| {
            let (west, insert) = (Arc::clone(&west), insert.clone());
            let Device { cart, mut changes, .. } = std::mem::take(&mut rows.lock().unwrap()[i]);
            let writer = format!("raw/{i}");
            let mut ts = 0_i64;
            Box::new(move || {
                let (_, row) = changes.pop_front().unwrap_or_default();
                let (west, insert, cart, writer) =
                    (Arc::clone(&west), insert.clone(), cart.clone(), writer.clone());
                ts += 1;
                let at = scylla::value::CqlTimestamp(0);
                Box::pin(async move {
                    west.session().execute_unpaged(&insert, (cart, writer, row, at, ts)).await.is_ok()
                })
            })
        })
        .await;
        let (raw_rate, _) = raw.report("the same rows, raw scylla driver writes");
        println!("ratio: the server reaches {:.2} of the raw driver's writes/s", server_rate / raw_rate);
        if round > 0 {
            ratios.push(server_rate / raw_rate);
        }
    }
    println!("median of {rounds} rounds: server/raw throughput {:.2}", median(&mut ratios));

    // Replication lag, us-west to eu-central.
    let mut replica = Replica::new();
    let token = auth.issue("lag", Some(replica.id()), 3600).unwrap_or_default();
    let mut lag = Run::new();
    let started = Instant::now();
    for n in 0..200_u64 {
        let delta = replica.add(&format!("itm_{n}"), 1, &AttrPatch::new()).unwrap_or_default();
        let body = SyncRequest { context: replica.context().clone(), delta }.to_bytes();
        let answer = client
            .post(format!("{url}/api/v1/carts/cart-lag/sync"))
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await;
        if !answer.is_ok_and(|a| a.status().is_success()) {
            lag.errors += 1;
            continue;
        }
        let acked = Instant::now();
        let item = format!("itm_{n}");
        loop {
            if central.load("cart-lag").await.is_ok_and(|s| s.quantity(&item) == 1) {
                lag.ok += 1;
                lag.latencies.push(acked.elapsed());
                break;
            }
            if acked.elapsed() > Duration::from_secs(10) {
                lag.errors += 1;
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    lag.elapsed = started.elapsed();
    lag.latencies.sort_unstable();
    println!(
        "replication lag us-west -> eu-central, {} changes: p50 {:.1} ms, p99 {:.1} ms, not seen within 10 s: {}",
        lag.ok,
        lag.quantile_ms(0.5),
        lag.quantile_ms(0.99),
        lag.errors
    );
}
