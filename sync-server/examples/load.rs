//! Load on loopback, side by side:
//! `cargo run --release -p sync-server --example load -- [SECONDS] [CONNECTIONS] [ITEMS]`
//!
//! In one process: the sync server on an embedded store in a temporary directory, and an
//! axum hello-world JSON endpoint as the peer. Each is driven by the same closed-loop
//! generator (CONNECTIONS concurrent clients for SECONDS), then the sync server is driven
//! open-loop at a fixed rate of writes. Every sync request is one device's new change
//! (an add), sent in the binary form and committed durably before it is answered.
//! Each device's cart cycles through ITEMS distinct items (default 21, the mean number of
//! lines of an Online Retail II invoice: Chen, D. (2019), UCI ML Repository, CC BY 4.0).
//! Prints requests/s, p50 and p99, and the ratio.

// A measuring harness, not product code: plain arithmetic on counters and latencies.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use cart_core::{AttrPatch, Replica, SyncRequest};
use sync_server::store::embedded::EmbeddedStore;

const SECRET: &str = "load-test-secret-of-32-bytes....";

struct Run {
    ok: usize,
    errors: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn report(&mut self, label: &str) -> f64 {
        self.latencies.sort_unstable();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len().saturating_sub(1));
            self.latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        let rate = self.ok as f64 / self.elapsed.as_secs_f64();
        println!(
            "{label:<44} {rate:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
            pct(0.50),
            pct(0.99),
            self.errors
        );
        rate
    }
}

/// One device per connection: each request syncs one new add of that device.
struct Device {
    replica: Replica,
    token: String,
    cart: String,
    n: u64,
    items: u64,
}

impl Device {
    fn next_request(&mut self) -> Vec<u8> {
        self.n += 1;
        let item = format!("itm_{}", self.n % self.items);
        let delta = self
            .replica
            .add(&item, 1, &AttrPatch::new().unit_price("9.99"))
            .or_else(|_| self.replica.set(&item, 1, &AttrPatch::new()))
            .unwrap_or_default();
        SyncRequest { context: self.replica.context().clone(), delta }.to_bytes()
    }
}

type MakeRequest = Box<dyn FnMut() -> reqwest::RequestBuilder + Send>;

async fn closed_loop(seconds: u64, connections: usize, make: impl Fn(usize) -> MakeRequest) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let mut next = make(c);
            tokio::spawn(async move {
                let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match next().send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            ok += 1;
                            latencies.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (ok, errors, latencies)
            })
        })
        .collect();
    let mut run = Run { ok: 0, errors: 0, latencies: Vec::new(), elapsed: Duration::ZERO };
    for t in tasks {
        if let Ok((ok, errors, latencies)) = t.await {
            run.ok += ok;
            run.errors += errors;
            run.latencies.extend(latencies);
        }
    }
    run.elapsed = start.elapsed();
    run
}

#[tokio::main]
async fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let seconds = args.first().copied().unwrap_or(10);
    let connections = usize::try_from(args.get(1).copied().unwrap_or(64)).unwrap_or(64);
    let items = args.get(2).copied().unwrap_or(21).max(1);

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
    let c = client.clone();
    let mut base = closed_loop(seconds, connections, |_| {
        let (c, url) = (c.clone(), hello_url.clone());
        Box::new(move || c.get(&url))
    })
    .await;
    let base_rate = base.report("axum hello-world JSON (peer)");

    let device = |i: usize| {
        let replica = Replica::new();
        let user = format!("load{i}");
        let token = auth.issue(&user, Some(replica.id()), 3600).unwrap_or_default();
        Device { token, cart: format!("cart-{user}"), replica, n: 0, items }
    };
    let mut sync = closed_loop(seconds, connections, |i| {
        let (c, url) = (client.clone(), server_url.clone());
        let mut d = device(i);
        Box::new(move || {
            let body = d.next_request();
            c.post(format!("{url}/api/v1/carts/{}/sync", d.cart))
                .bearer_auth(&d.token)
                .header("content-type", "application/octet-stream")
                .body(body)
        })
    })
    .await;
    let sync_rate = sync.report("device sync, one durable add each");
    println!("ratio: sync reaches {:.2} of hello-world's throughput", sync_rate / base_rate);

    // Open loop: a fixed rate of writes; each latency counts from the write's due time.
    let target = 10_000_u32;
    let per = Duration::from_secs(1) / target;
    let total = target * u32::try_from(seconds.min(5)).unwrap_or(5);
    let devices: Vec<_> = (0..connections).map(|i| Arc::new(tokio::sync::Mutex::new(device(i)))).collect();
    let start = tokio::time::Instant::now();
    let mut handles = Vec::new();
    for k in 0..total {
        let due = start + per * k;
        tokio::time::sleep_until(due).await;
        let (c, url) = (client.clone(), server_url.clone());
        let d = Arc::clone(&devices[k as usize % devices.len()]);
        handles.push(tokio::spawn(async move {
            let (body, cart, token) = {
                let mut d = d.lock().await;
                (d.next_request(), d.cart.clone(), d.token.clone())
            };
            let r = c
                .post(format!("{url}/api/v1/carts/{cart}/sync"))
                .bearer_auth(token)
                .header("content-type", "application/octet-stream")
                .body(body)
                .send()
                .await;
            (r.map(|r| r.status().is_success()).unwrap_or(false), due.elapsed())
        }));
    }
    let mut open = Run { ok: 0, errors: 0, latencies: Vec::new(), elapsed: Duration::ZERO };
    for h in handles {
        if let Ok((ok, latency)) = h.await {
            if ok {
                open.ok += 1;
                open.latencies.push(latency);
            } else {
                open.errors += 1;
            }
        }
    }
    open.elapsed = start.elapsed();
    open.report(&format!("device sync, open loop at {target} writes/s"));
    let _ = std::fs::remove_dir_all(&dir);
}
