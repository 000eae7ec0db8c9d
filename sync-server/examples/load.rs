//! Load on loopback, side by side:
//! `cargo run --release -p sync-server --example load -- [SECONDS] [CONNECTIONS] [ITEMS] [ROUNDS]`
//!
//! In one process: the sync server on an embedded store in a temporary directory, and an
//! axum hello-world JSON endpoint as the peer. Each is driven by the same closed-loop
//! generator (CONNECTIONS concurrent clients for SECONDS), then the sync server is driven
//! open-loop at a fixed rate of writes. Every sync request is one device's new change
//! (an add, or a clear after ITEMS adds), sent in the binary form and committed durably
//! before it is answered. Each device's cart fills with ITEMS distinct items (default 21, the mean number of
//! lines of an Online Retail II invoice: Chen, D. (2019), UCI ML Repository, CC BY 4.0).
//! The machine's speed drifts from second to second (a shared VM), so the pair of runs
//! is repeated ROUNDS times (default 3), alternating, and the median ratio is reported.
//! Prints requests/s, p50 and p99, and the ratio.

// A measuring harness, not product code: plain arithmetic on counters and latencies.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use cart_core::{AttrPatch, Replica, SyncRequest};
use harness::{Run, closed_loop, http, median};
use sync_server::store::embedded::EmbeddedStore;

// The allocator the server binary runs with; the peer runs with it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod harness;

const SECRET: &str = "load-test-secret-of-32-bytes....";

/// One device per connection: each request syncs one new change of that device. A
/// device fills its cart with ITEMS lines, one add each, then clears it (a checkout's
/// removal) and starts again, so its cart holds between 0 and ITEMS lines, as a
/// shopper's does.
struct Device {
    replica: Replica,
    token: String,
    cart: String,
    n: u64,
    items: u64,
    /// Requests made before the clock starts: a device computes its own deltas, so
    /// their cost is not the server's and is kept out of the measured loop.
    ready: std::collections::VecDeque<Vec<u8>>,
}

impl Device {
    fn prepare(mut self, requests: u64) -> Self {
        for _ in 0..requests {
            let body = self.make_request();
            self.ready.push_back(body);
        }
        self
    }

    fn next_request(&mut self) -> Vec<u8> {
        self.ready.pop_front().unwrap_or_else(|| self.make_request())
    }

    fn make_request(&mut self) -> Vec<u8> {
        self.n += 1;
        let step = self.n % (self.items + 1);
        let delta = if step == self.items {
            self.replica.clear()
        } else {
            let price = AttrPatch::new().unit_price("2.55");
            self.replica.add(&format!("itm_{step}"), i64::try_from(1 + self.n % 6).unwrap_or(1), &price)
        };
        SyncRequest { context: self.replica.context().clone(), delta: delta.unwrap_or_default() }.to_bytes()
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let seconds = args.first().copied().unwrap_or(10);
    let connections = usize::try_from(args.get(1).copied().unwrap_or(64)).unwrap_or(64);
    let items = args.get(2).copied().unwrap_or(21).max(1);
    let rounds = usize::try_from(args.get(3).copied().unwrap_or(3)).unwrap_or(3).max(1);

    let dir = std::env::temp_dir().join(format!("cart-load-{}", std::process::id()));
    let store = Arc::new(EmbeddedStore::open(&dir).unwrap_or_else(|e| panic!("{e}")));
    let state = sync_server::build("us-west", store, &[], SECRET).unwrap_or_else(|e| panic!("{}", e.message));
    let auth = state.auth.clone();
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let hello = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let server_url = format!("http://{}", server.local_addr().unwrap_or_else(|e| panic!("{e}")));
    let hello_url = format!("http://{}/hello", hello.local_addr().unwrap_or_else(|e| panic!("{e}")));
    tokio::spawn(async move { axum::serve(server, sync_server::app::app(state)).await });
    let hello_app = axum::Router::new()
        .route("/hello", get(|| async { axum::Json(serde_json::json!({"hello": "world"})) }));
    tokio::spawn(async move { axum::serve(hello, hello_app).await });
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build().unwrap_or_default();

    println!(
        "{connections} connections, {seconds} s each, {items}-item carts, loopback, generator in the same process"
    );
    let device = |i: usize| {
        let replica = Replica::new();
        let user = format!("load{i}");
        let token = auth.issue(&user, Some(replica.id()), 3600).unwrap_or_default();
        Device { token, cart: format!("cart-{user}"), replica, n: 0, items, ready: Default::default() }
    };
    // Enough prepared requests for 30,000 per second; beyond that they are made live.
    let per_device = 30_000 * seconds / connections as u64;
    let (mut ratios, mut p99s) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        println!("round {}", round + 1);
        let first = round * 2 * connections;
        let c = client.clone();
        let mut base = closed_loop(seconds, connections, |_| {
            let (c, url) = (c.clone(), hello_url.clone());
            Box::new(move || http(c.get(&url)))
        })
        .await;
        let (base_rate, _) = base.report("axum hello-world JSON (peer)");

        let mut sync = closed_loop(seconds, connections, |i| {
            let (c, url) = (client.clone(), server_url.clone());
            let mut d = device(first + i).prepare(per_device);
            Box::new(move || {
                let body = d.next_request();
                http(
                    c.post(format!("{url}/api/v1/carts/{}/sync", d.cart))
                        .bearer_auth(&d.token)
                        .header("content-type", "application/octet-stream")
                        .body(body),
                )
            })
        })
        .await;
        let (sync_rate, _) = sync.report("device sync, one durable change each");
        println!("ratio: sync reaches {:.2} of hello-world's throughput", sync_rate / base_rate);
        ratios.push(sync_rate / base_rate);

        // Open loop: writes fall due at a fixed rate, each device's in turn, and each
        // latency counts from the write's due time, so a slow answer that delays the
        // next write is charged to that write too (no coordinated omission). One connection
        // per device, as on the road: CONNECTIONS workers, each a device.
        let target = 10_000_u32;
        let per = Duration::from_secs(1) / target;
        let total = u64::from(target) * seconds.min(5);
        let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let ready: Vec<Device> = (0..connections)
            .map(|i| device(first + connections + i).prepare(total / connections as u64 + 1))
            .collect();
        let start = tokio::time::Instant::now() + Duration::from_millis(50);
        let workers: Vec<_> = ready
            .into_iter()
            .map(|mut d| {
                let (c, url, next) = (client.clone(), server_url.clone(), Arc::clone(&next));
                tokio::spawn(async move {
                    let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if k >= total {
                            break;
                        }
                        let due = start + per * u32::try_from(k).unwrap_or(u32::MAX);
                        tokio::time::sleep_until(due).await;
                        let r = c
                            .post(format!("{url}/api/v1/carts/{}/sync", d.cart))
                            .bearer_auth(&d.token)
                            .header("content-type", "application/octet-stream")
                            .body(d.next_request())
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status().is_success() => {
                                let _ = r.bytes().await;
                                ok += 1;
                                latencies.push(due.elapsed());
                            }
                            _ => errors += 1,
                        }
                    }
                    (ok, errors, latencies)
                })
            })
            .collect();
        let mut open = Run::new();
        for w in workers {
            if let Ok((ok, errors, latencies)) = w.await {
                open.ok += ok;
                open.errors += errors;
                open.latencies.extend(latencies);
            }
        }
        open.elapsed = start.elapsed();
        let (_, p99) = open.report(&format!("device sync, open loop at {target} writes/s"));
        p99s.push(p99);
    }
    println!(
        "median of {rounds} rounds: sync/hello-world throughput {:.2}; open-loop p99 {:.2} ms",
        median(&mut ratios),
        median(&mut p99s)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
