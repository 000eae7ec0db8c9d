//! Three regions on a real three-datacenter Apache Cassandra cluster (one node per
//! region, started and stopped by this test), one sync server per region and no peer
//! sync: Cassandra's replication alone carries changes between regions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

mod cluster;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cart_core::{AttrPatch, CartState, Replica, SyncRequest, SyncResponse};
use cluster::{Cluster, fresh_keyspace};
use sync_server::state::AppState;
use sync_server::store::cassandra::{CassandraConfig, CassandraStore};

const SECRET: &str = "a-test-secret-of-32-bytes.......";
const REGIONS: [(&str, &str); 3] =
    [("127.0.0.1", "us-west"), ("127.0.0.2", "eu-central"), ("127.0.0.3", "ap-southeast")];
const USER: &str = "usr_geo";
const CART: &str = "cart-usr_geo";

struct Region {
    name: &'static str,
    url: String,
    state: AppState,
}

async fn start_region(cluster: &Cluster, node: usize, keyspace: &str) -> Region {
    let (_, name) = REGIONS[node];
    let mut config = CassandraConfig::new(vec![format!("{}:9042", cluster.nodes[node].ip)], name, name);
    config.keyspace = keyspace.to_owned();
    config.replication = REGIONS.iter().map(|(_, dc)| ((*dc).to_owned(), 1)).collect();
    config.request_timeout = Duration::from_secs(3);
    let store = Arc::new(CassandraStore::connect(config).await.unwrap());
    let state = sync_server::build(name, store, &[], SECRET).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = sync_server::app::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Region { name, url, state }
}

fn auth() -> sync_server::auth::Auth {
    sync_server::auth::Auth::new(SECRET).unwrap()
}

/// One sync round of a device with a region: the status, and the device joins the answer.
async fn sync(client: &reqwest::Client, region: &Region, device: &mut Replica) -> reqwest::StatusCode {
    let token = auth().issue(USER, Some(device.id()), 3600).unwrap();
    let request = SyncRequest { context: device.context().clone(), delta: device.state().clone() };
    let response = client
        .post(format!("{}/api/v1/carts/{CART}/sync", region.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(request.to_bytes())
        .send()
        .await
        .unwrap();
    let status = response.status();
    if status == 200 {
        device.join(&SyncResponse::from_bytes(&response.bytes().await.unwrap()).unwrap().delta);
    }
    status
}

async fn stored(region: &Region) -> Option<CartState> {
    region.state.region.store.load(CART).await.ok().map(|s| s.as_ref().clone())
}

/// Syncs every device with its region until every region and device holds the same bytes.
async fn converge(
    client: &reqwest::Client,
    regions: &[Region],
    devices: &mut [(usize, Replica)],
    what: &str,
) -> CartState {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for (at, device) in devices.iter_mut() {
            sync(client, &regions[*at], device).await;
        }
        let mut carts = Vec::new();
        for region in regions {
            carts.push(stored(region).await);
        }
        let first = carts[0].clone();
        let same_regions = carts
            .iter()
            .all(|c| c.as_ref().map(CartState::to_bytes) == first.as_ref().map(CartState::to_bytes));
        if let Some(first) = first.filter(|_| same_regions)
            && devices.iter().all(|(_, d)| d.state().to_bytes() == first.to_bytes())
        {
            return first;
        }
        assert!(Instant::now() < deadline, "{what}: regions and devices did not converge");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn checkout(client: &reqwest::Client, region: &Region, key: &str) -> (u16, serde_json::Value) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_regions_converge_through_cassandra_and_check_out_once() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(&REGIONS)).await.unwrap();
    let keyspace = fresh_keyspace("regions");
    let mut regions = Vec::new();
    for node in 0..REGIONS.len() {
        regions.push(start_region(&cluster, node, &keyspace).await);
    }
    let client = reqwest::Client::new();

    // 1. Devices on three regions, each syncing only with its own: Cassandra carries the rest.
    let mut devices: Vec<(usize, Replica)> = (0..3).map(|at| (at, Replica::new())).collect();
    devices[0].1.add("itm_shirt", 2, &AttrPatch::new().unit_price("29.99")).unwrap();
    devices[1].1.add("itm_shirt", 1, &AttrPatch::new()).unwrap();
    devices[1].1.add("itm_mug", 1, &AttrPatch::new().unit_price("8.5")).unwrap();
    devices[2].1.add("itm_socks", 3, &AttrPatch::new().unit_price("4.25")).unwrap();
    let cart = converge(&client, &regions, &mut devices, "three devices on three regions").await;
    assert_eq!((cart.quantity("itm_shirt"), cart.quantity("itm_mug"), cart.quantity("itm_socks")), (3, 1, 3));
    // The tablet removes the mug it saw while the phone, unaware, adds one: add wins.
    devices[2].1.remove("itm_mug").unwrap();
    devices[0].1.add("itm_mug", 1, &AttrPatch::new()).unwrap();
    let cart = converge(&client, &regions, &mut devices, "a remove and a concurrent add").await;
    assert_eq!(cart.quantity("itm_mug"), 1);

    // 2. eu-central's node stops: its server refuses writes with 503 and Retry-After,
    //    acknowledging nothing; the other regions go on. Restarted, it catches up (hints).
    tokio::task::block_in_place(|| cluster.stop(2));
    devices[1].1.add("itm_hat", 1, &AttrPatch::new()).unwrap();
    assert_eq!(sync(&client, &regions[1], &mut devices[1].1).await, 503);
    let token = auth().issue(USER, None, 3600).unwrap();
    let refused = client
        .post(format!("{}/api/v1/cart/items", regions[1].url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"user_id": USER, "item_id": "itm_scarf", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    for i in 0..20 {
        devices[0].1.add(&format!("itm_while_down_{i}"), 1, &AttrPatch::new()).unwrap();
        assert_eq!(sync(&client, &regions[0], &mut devices[0].1).await, 200, "us-west takes writes");
    }
    tokio::task::block_in_place(|| cluster.restart(2));
    let cart = converge(&client, &regions, &mut devices, "eu-central after its node returns").await;
    assert_eq!(cart.quantity("itm_hat"), 1, "the change refused while down was sent again and kept");
    assert_eq!(cart.quantity("itm_scarf"), 0, "the refused REST add was never acknowledged, nor stored");
    assert!(
        (0..20).all(|i| cart.quantity(&format!("itm_while_down_{i}")) == 1),
        "nothing acknowledged was lost"
    );

    // 3. Two regions check out the same cart at the same moment: one order.
    let (a, b) =
        tokio::join!(checkout(&client, &regions[0], "race-a"), checkout(&client, &regions[1], "race-b"));
    let created: Vec<&(u16, serde_json::Value)> = [&a, &b].into_iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(created.len(), 1, "exactly one order: {a:?} {b:?}");
    let loser = if a.0 == 201 { &b } else { &a };
    assert_eq!(loser.0, 409, "the other finds the cart empty: {loser:?}");
    assert_eq!(loser.1["error"]["code"], "cart_empty");
    let order = &created[0].1;
    let ordered: u64 =
        order["items"].as_array().unwrap().iter().map(|l| l["quantity"].as_u64().unwrap()).sum();
    let expected: u64 = cart.lines().map(|l| u64::from(l.quantity)).sum();
    assert_eq!(ordered, expected, "the order froze the whole cart: {order}");
    // The same key at two regions: the same order.
    let again = checkout(&client, &regions[2], if a.0 == 201 { "race-a" } else { "race-b" }).await;
    assert_eq!(again.0, 200);
    assert_eq!(again.1["order_id"], order["order_id"]);
    for region in &regions {
        let cart = stored(region).await.unwrap();
        assert!(cart.is_empty_cart(), "{}: the checkout emptied the cart everywhere", region.name);
    }
}
