//! Sync servers on a Cassandra cluster, one per region, and devices that talk to them
//! over real sockets: what the multi-datacenter tests share.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cart_core::{CartState, Replica, SyncRequest, SyncResponse};
use sync_server::state::AppState;
use sync_server::store::CartStore;
use sync_server::store::cassandra::{CassandraConfig, CassandraStore};
use sync_server::store::redis_cache::{CacheConfig, RedisCache};

use super::Node;

pub const SECRET: &str = "a-test-secret-of-32-bytes.......";
/// Three regions on loopback, one node each.
pub const REGIONS: [(&str, &str); 3] =
    [("127.0.0.1", "us-west"), ("127.0.0.2", "eu-central"), ("127.0.0.3", "ap-southeast")];
pub const USER: &str = "usr_geo";
pub const CART: &str = "cart-usr_geo";
/// How long replication may take to bring every region level.
const CONVERGE_WITHIN: Duration = Duration::from_secs(120);

/// A sync server of one region, serving on a loopback port.
pub struct Region {
    pub name: String,
    pub url: String,
    pub state: AppState,
}

/// A sync server for `node`'s datacenter, talking only to that node, with no peers.
pub async fn start_region(node: &Node, keyspace: &str) -> Region {
    start_region_with(node, keyspace, |_| {}).await
}

/// As [`start_region`], with the store's configuration changed by `tune`.
pub async fn start_region_with(
    node: &Node,
    keyspace: &str,
    tune: impl FnOnce(&mut CassandraConfig),
) -> Region {
    let mut config = CassandraConfig::new(vec![format!("{}:9042", node.ip)], &node.dc, &node.dc);
    config.keyspace = keyspace.to_owned();
    config.replication = REGIONS.iter().map(|(_, dc)| ((*dc).to_owned(), 1)).collect();
    config.request_timeout = Duration::from_secs(3);
    tune(&mut config);
    let store = Arc::new(CassandraStore::connect(config).await.unwrap());
    serve(node, store).await
}

/// A sync server for `node`'s datacenter behind a Redis cache at `redis_url`.
pub async fn start_cached_region(node: &Node, keyspace: &str, redis_url: &str) -> (Region, Arc<RedisCache>) {
    let mut config = CassandraConfig::new(vec![format!("{}:9042", node.ip)], &node.dc, &node.dc);
    config.keyspace = keyspace.to_owned();
    let store = Arc::new(CassandraStore::connect(config).await.unwrap());
    let cache = Arc::new(RedisCache::new(store, CacheConfig::new(redis_url)).unwrap());
    (serve(node, cache.clone()).await, cache)
}

async fn serve(node: &Node, store: Arc<dyn CartStore>) -> Region {
    let state = sync_server::build(&node.dc, store, &[], SECRET).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = sync_server::app::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Region { name: node.dc.clone(), url, state }
}

pub fn auth() -> sync_server::auth::Auth {
    sync_server::auth::Auth::new(SECRET).unwrap()
}

/// One sync round of a device with a region: the status, and the device joins the answer.
pub async fn sync(client: &reqwest::Client, region: &Region, device: &mut Replica) -> reqwest::StatusCode {
    let delta = device.state().clone();
    exchange(client, region, device, delta).await.0
}

/// A device's read (a sync with no changes, saying what it has seen): the status and
/// the answer's context; the device joins the answer.
pub async fn read(
    client: &reqwest::Client,
    region: &Region,
    device: &mut Replica,
) -> (reqwest::StatusCode, Option<cart_core::CausalContext>) {
    exchange(client, region, device, CartState::new()).await
}

/// Sends the device's context and `delta`; on 200 the device joins the answer, whose
/// context is returned.
async fn exchange(
    client: &reqwest::Client,
    region: &Region,
    device: &mut Replica,
    delta: CartState,
) -> (reqwest::StatusCode, Option<cart_core::CausalContext>) {
    let token = auth().issue(USER, Some(device.id()), 3600).unwrap();
    let request = SyncRequest { context: device.context().clone(), delta };
    let response = client
        .post(format!("{}/api/v1/carts/{CART}/sync", region.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(request.to_bytes())
        .send()
        .await
        .unwrap();
    let status = response.status();
    if status != 200 {
        return (status, None);
    }
    let answer = SyncResponse::from_bytes(&response.bytes().await.unwrap()).unwrap();
    device.join(&answer.delta);
    (status, Some(answer.context))
}

/// The cart as a region's store reads it now.
pub async fn stored(region: &Region) -> Option<CartState> {
    region.state.region.store.load(CART).await.ok().map(|s| s.as_ref().clone())
}

/// Syncs every device with its region until every region and device holds the same bytes.
pub async fn converge(
    client: &reqwest::Client,
    regions: &[Region],
    devices: &mut [(usize, Replica)],
    what: &str,
) -> CartState {
    let started = Instant::now();
    loop {
        for (at, device) in devices.iter_mut() {
            sync(client, &regions[*at], device).await;
        }
        let mut carts = Vec::new();
        for region in regions {
            carts.push(stored(region).await.map(|c| c.to_bytes()));
        }
        if let Some(first) = carts[0].clone()
            && carts.iter().all(|c| c.as_ref() == Some(&first))
            && devices.iter().all(|(_, d)| d.state().to_bytes() == first)
        {
            eprintln!("{what}: converged in {:?}", started.elapsed());
            return CartState::from_bytes(&first).unwrap();
        }
        assert!(started.elapsed() < CONVERGE_WITHIN, "{what}: regions and devices did not converge");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A checkout at a region with an idempotency key: status and JSON body.
pub async fn checkout(client: &reqwest::Client, region: &Region, key: &str) -> (u16, serde_json::Value) {
    let token = auth().issue(USER, None, 3600).unwrap();
    let response = client
        .post(format!("{}/api/v1/cart/checkout", region.url))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or_default())
}
