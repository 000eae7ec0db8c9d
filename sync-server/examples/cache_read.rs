//! The Redis cache's benchmark (issue 7): `scripts/bench-cache.sh` starts a Redis and, for
//! the Cassandra part, one Cassandra node, then runs
//! `cargo run --release -p sync-server --example cache_read -- REDIS_URL [READS]`
//! (with `CART_BENCH_NODES=host:9042` for Cassandra as well as the embedded store).
//!
//! Carts of 21 lines (the mean Online Retail II invoice: Chen, D. (2019), UCI ML
//! Repository, CC BY 4.0) are written through the cache. Then, in the same process and
//! the same run, READS (default 5000) reads of each kind, one at a time, interleaved:
//! straight from the store; through the cache on a hit; through the cache on a miss
//! (an empty cache: read-through and refill). Prints p50 and p99 and the ratios.

// A measuring harness, not product code.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cart_core::{AttrPatch, CausalContext, Replica};
use sync_server::store::CartStore;
use sync_server::store::cassandra::{CassandraConfig, CassandraStore};
use sync_server::store::embedded::EmbeddedStore;
use sync_server::store::redis_cache::{CacheConfig, RedisCache};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CARTS: usize = 200;
const LINES: usize = 21;

fn quantile_ms(v: &mut [Duration], p: f64) -> f64 {
    v.sort_unstable();
    let i = ((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1));
    v.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn cache(store: Arc<dyn CartStore>, url: &str, prefix: &str) -> RedisCache {
    let mut config = CacheConfig::new(url);
    // Long enough that no entry expires during the run: the hits are hits.
    config.fresh_for = Duration::from_secs(600);
    config.prefix = prefix.to_owned();
    RedisCache::new(store, config).unwrap()
}

async fn run(name: &str, store: Arc<dyn CartStore>, url: &str, reads: usize) {
    let run = std::process::id();
    let cached = cache(Arc::clone(&store), url, &format!("bench{run}-{name}:"));
    let carts: Vec<String> = (0..CARTS).map(|i| format!("cart-bench{run}-{i}")).collect();
    for cart in &carts {
        let mut replica = Replica::new();
        for line in 0..LINES {
            let price = AttrPatch::new().unit_price(format!("{}.{:02}", line % 20, line * 7 % 100));
            let delta = replica.add(&format!("itm_{line}"), 1 + (line % 6) as i64, &price).unwrap();
            cached.merge(cart, delta).await.unwrap();
        }
    }
    // A miss needs an empty cache: a new key prefix for every pass over the carts.
    let passes = reads.div_ceil(CARTS);
    let missing: Vec<RedisCache> =
        (0..passes).map(|p| cache(Arc::clone(&store), url, &format!("bench{run}-{name}-miss{p}:"))).collect();
    let seen = CausalContext::new();
    let (mut direct, mut hits, mut misses) = (Vec::new(), Vec::new(), Vec::new());
    let before = cached.counts();
    for n in 0..reads {
        let cart = &carts[n * 7919 % CARTS];
        let t = Instant::now();
        std::hint::black_box(store.load(cart).await.unwrap());
        direct.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(cached.load_seen(cart, &seen).await.unwrap());
        hits.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(missing[n / CARTS].load_seen(&carts[n % CARTS], &seen).await.unwrap());
        misses.push(t.elapsed());
    }
    let counted = cached.counts();
    assert_eq!(counted.hits - before.hits, reads as u64, "every cached read was a hit: {counted:?}");
    let missed: u64 = missing.iter().map(|c| c.counts().misses).sum();
    assert_eq!(missed, reads as u64, "every read of an empty cache was a miss");
    let (d50, d99) = (quantile_ms(&mut direct, 0.5), quantile_ms(&mut direct, 0.99));
    let (h50, h99) = (quantile_ms(&mut hits, 0.5), quantile_ms(&mut hits, 0.99));
    let (m50, m99) = (quantile_ms(&mut misses, 0.5), quantile_ms(&mut misses, 0.99));
    println!("{name}: {reads} reads of each kind, {LINES}-line carts");
    println!("  straight from the store     p50 {d50:>7.3} ms   p99 {d99:>7.3} ms");
    println!(
        "  cache hit                   p50 {h50:>7.3} ms   p99 {h99:>7.3} ms   {:.2}x the store's p50",
        h50 / d50
    );
    println!(
        "  cache miss (read-through)   p50 {m50:>7.3} ms   p99 {m99:>7.3} ms   {:.2}x the store's p50",
        m50 / d50
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args.first().cloned().unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let reads = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(5000);
    let dir = std::env::temp_dir().join(format!("cart-cache-bench-{}", std::process::id()));
    let embedded: Arc<dyn CartStore> = Arc::new(EmbeddedStore::open(&dir).unwrap());
    run("embedded store", embedded, &url, reads).await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(node) = std::env::var("CART_BENCH_NODES") {
        let mut config = CassandraConfig::new(vec![node], "us-west", "us-west");
        config.keyspace = format!("cache_bench_{}", std::process::id());
        let cassandra: Arc<dyn CartStore> = Arc::new(CassandraStore::connect(config).await.unwrap());
        run("cassandra store (one node)", cassandra, &url, reads).await;
    }
}
