//! P4 of BENCHMARKS.md, change latency on loopback:
//! `cargo run --release -p sync-server --example latency -- [CHANGES] [ROUNDS]`
//!
//! Two regions in this process (us-west and eu-central, each on an embedded store in a
//! temporary directory, each the other's `--peer`), and a shopper with three devices:
//!
//! 1. Device to device through one region: device A syncs a change to us-west; device B,
//!    listening to us-west's event stream, is told of it. The time from A sending its
//!    sync to B reading the `change` event.
//! 2. Across regions: the same change, heard by device C listening to eu-central's event
//!    stream, which learns of it only by replication. The time from A's sync being
//!    acknowledged by us-west to C reading the event.
//!
//! CHANGES (default 500) changes a round, one at a time; ROUNDS (default 3) rounds, each
//! printing p50 and p99; the median round's figures are the result. The peer of the
//! cross-region figure is the same-region one, printed as a ratio.

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
use harness::{Run, median};
use sync_server::store::embedded::EmbeddedStore;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod harness;

const SECRET: &str = "load-test-secret-of-32-bytes....";

/// One region served on a loopback listener bound in advance (the peers' URLs must be
/// known before either is built).
async fn region(
    name: &str,
    listener: tokio::net::TcpListener,
    peer: String,
    dir: &std::path::Path,
) -> sync_server::auth::Auth {
    let store = Arc::new(EmbeddedStore::open(dir).unwrap_or_else(|e| panic!("{e}")));
    let state = sync_server::build(name, store, &[peer], SECRET).unwrap_or_else(|e| panic!("{}", e.message));
    let auth = (*state.auth).clone();
    tokio::spawn(async move { axum::serve(listener, sync_server::app::app(state)).await });
    auth
}

/// An open event stream: reads `change` events as they come.
struct Listener {
    answer: reqwest::Response,
    buffer: String,
}

impl Listener {
    async fn open(client: &reqwest::Client, url: &str, token: &str) -> Self {
        let answer = client.get(url).bearer_auth(token).send().await.unwrap();
        assert!(answer.status().is_success(), "event stream: {}", answer.status());
        let mut listener = Self { answer, buffer: String::new() };
        listener.next("ready").await;
        listener
    }

    /// Waits for the next event named `name`; returns when its last byte arrived.
    async fn next(&mut self, name: &str) -> Instant {
        let marker = format!("event: {name}\n");
        loop {
            if let Some(at) = self.buffer.find(&marker)
                && let Some(end) = self.buffer[at..].find("\n\n")
            {
                self.buffer.drain(..at + end + 2);
                return Instant::now();
            }
            let chunk = self.answer.chunk().await.unwrap().expect("the event stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let changes = args.first().copied().unwrap_or(500);
    let rounds = args.get(1).copied().unwrap_or(3).max(1);
    let dir = std::env::temp_dir().join(format!("cart-latency-{}", std::process::id()));
    let west_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let central_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let west = format!("http://{}", west_listener.local_addr().unwrap());
    let central = format!("http://{}", central_listener.local_addr().unwrap());
    let auth = region("us-west", west_listener, central.clone(), &dir.join("west")).await;
    region("eu-central", central_listener, west.clone(), &dir.join("central")).await;

    let client = reqwest::Client::new();
    println!("{changes} changes a round, one at a time; two regions on loopback, embedded stores, peers");
    let (mut same, mut cross) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let user = format!("shopper{round}");
        let cart = format!("cart-{user}");
        let mut a = Replica::new();
        let token_a = auth.issue(&user, Some(a.id()), 3600).unwrap();
        let token_b = auth.issue(&user, Some(Replica::new().id()), 3600).unwrap();
        let token_c = auth.issue(&user, Some(Replica::new().id()), 3600).unwrap();
        let mut b = Listener::open(&client, &format!("{west}/api/v1/carts/{cart}/events"), &token_b).await;
        let mut c = Listener::open(&client, &format!("{central}/api/v1/carts/{cart}/events"), &token_c).await;
        let (mut local, mut replicated) = (Run::new(), Run::new());
        let started = Instant::now();
        for n in 0..changes {
            // Alternate adds and removes of a few items: a cart of a handful of lines.
            let item = format!("itm_{}", n % 7);
            let delta = if a.state().quantity(&item) > 0 {
                a.remove(&item)
            } else {
                a.add(&item, 1, &AttrPatch::new().unit_price("2.55"))
            }
            .unwrap();
            let body = SyncRequest { context: a.context().clone(), delta }.to_bytes();
            let sent = Instant::now();
            let answer = client
                .post(format!("{west}/api/v1/carts/{cart}/sync"))
                .bearer_auth(&token_a)
                .header("content-type", "application/octet-stream")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_success(), "sync: {}", answer.status());
            answer.bytes().await.unwrap();
            let acked = Instant::now();
            local.latencies.push(b.next("change").await - sent);
            local.ok += 1;
            let heard = tokio::time::timeout(Duration::from_secs(10), c.next("change")).await;
            match heard {
                Ok(at) => {
                    replicated.latencies.push(at.saturating_duration_since(acked));
                    replicated.ok += 1;
                }
                Err(_) => replicated.errors += 1,
            }
        }
        local.elapsed = started.elapsed();
        replicated.elapsed = local.elapsed;
        local.latencies.sort_unstable();
        replicated.latencies.sort_unstable();
        let (l50, l99) = (local.quantile_ms(0.5), local.quantile_ms(0.99));
        let (r50, r99) = (replicated.quantile_ms(0.5), replicated.quantile_ms(0.99));
        println!(
            "round {round}: device -> device, one region:   p50 {l50:>6.2} ms  p99 {l99:>6.2} ms\n\
             round {round}: us-west -> eu-central device:  p50 {r50:>6.2} ms  p99 {r99:>6.2} ms   \
             not heard within 10 s: {}",
            replicated.errors
        );
        same.push((l99, l50));
        cross.push((r99, r50));
    }
    let pick = |v: &mut Vec<(f64, f64)>| {
        let mut p99: Vec<f64> = v.iter().map(|x| x.0).collect();
        let mut p50: Vec<f64> = v.iter().map(|x| x.1).collect();
        let spread = |x: &[f64]| {
            let (lo, hi) = x.iter().fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(*y), hi.max(*y)));
            format!("{lo:.2} to {hi:.2}")
        };
        let (s50, s99) = (spread(&p50), spread(&p99));
        (median(&mut p50), s50, median(&mut p99), s99)
    };
    let (l50, ls50, l99, ls99) = pick(&mut same);
    let (r50, rs50, r99, rs99) = pick(&mut cross);
    println!(
        "median of {rounds} rounds: device -> device p50 {l50:.2} ms ({ls50}), p99 {l99:.2} ms ({ls99}); \
         cross-region p50 {r50:.2} ms ({rs50}), p99 {r99:.2} ms ({rs99}); cross/same p99 {:.1}x",
        r99 / l99
    );
    let _ = std::fs::remove_dir_all(&dir);
}
