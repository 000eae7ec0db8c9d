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
mod redis_server;

use cart_core::{AttrPatch, Replica};
use cluster::geo::{
    REGIONS, USER, auth, checkout, converge, read, start_cached_region, start_region, start_region_with,
    stored, sync,
};
use cluster::{Cluster, fresh_keyspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_regions_converge_through_cassandra_and_check_out_once() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(&REGIONS)).await.unwrap();
    let keyspace = fresh_keyspace("regions");
    let mut regions = Vec::new();
    for node in &cluster.nodes {
        regions.push(start_region(node, &keyspace).await);
    }
    // A second eu-central server, configured to fail over to other datacenters.
    let failover = start_region_with(&cluster.nodes[1], &keyspace, |c| c.dc_failover = true).await;
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
    // Configured to fail over, a server of the same region writes through another one.
    let mut traveller = Replica::new();
    traveller.add("itm_passport", 1, &AttrPatch::new()).unwrap();
    assert_eq!(sync(&client, &failover, &mut traveller).await, 200, "failover to another datacenter");
    devices.push((0, traveller));
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
    assert_eq!(cart.quantity("itm_passport"), 1, "the change written through failover is everywhere");

    // 3. Two regions check out the same cart at the same moment: one order.
    let (mut a, mut b) =
        tokio::join!(checkout(&client, &regions[0], "race-a"), checkout(&client, &regions[1], "race-b"));
    // A 503 means "no order was made, retry with the same key", as a storefront does.
    for (outcome, at, key) in [(&mut a, 0, "race-a"), (&mut b, 1, "race-b")] {
        if outcome.0 == 503 {
            *outcome = checkout(&client, &regions[at], key).await;
        }
    }
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

    // 4. A second us-west server behind a Redis cache (issue 7). The phone writes through
    //    it (cached), then travels: its laptop's change, made through eu-central, reaches
    //    the phone there, and us-west's store by Cassandra's replication, which the cache
    //    never hears of. Back on us-west, the phone never receives the older cart.
    let redis = redis_server::Redis::start().await;
    let (cached, cache) = start_cached_region(&cluster.nodes[0], &keyspace, &redis.url()).await;
    let mut phone = Replica::new();
    phone.add("itm_cached", 1, &AttrPatch::new()).unwrap();
    assert_eq!(sync(&client, &cached, &mut phone).await, 200);
    let hits = cache.counts().hits;
    assert_eq!(read(&client, &cached, &mut phone).await.0, 200);
    assert_eq!(cache.counts().hits, hits + 1, "a read after a write is a hit: {:?}", cache.counts());
    let mut laptop = Replica::new();
    laptop.add("itm_from_europe", 2, &AttrPatch::new()).unwrap();
    assert_eq!(sync(&client, &regions[1], &mut laptop).await, 200);
    while phone.state().quantity("itm_from_europe") == 0 {
        assert_eq!(read(&client, &regions[1], &mut phone).await.0, 200);
    }
    let behind = cache.cached(cluster::geo::CART).await.unwrap().unwrap();
    assert!(!behind.context().includes(phone.context()), "the cache is behind the phone");
    let stale = cache.counts().stale;
    let started = std::time::Instant::now();
    loop {
        // 409 until replication brings the laptop's change to us-west's store.
        let (status, context) = read(&client, &cached, &mut phone).await;
        if status == 200 {
            assert!(
                context.unwrap().includes(phone.context()),
                "the answer is at least what the phone has seen"
            );
            break;
        }
        assert_eq!(status, 409);
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "us-west never got the change");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(cache.counts().stale > stale, "the stale entry was detected: {:?}", cache.counts());
    let refreshed = cache.cached(cluster::geo::CART).await.unwrap().unwrap();
    assert!(refreshed.context().includes(phone.context()), "and refreshed");
    assert_eq!(refreshed.quantity("itm_from_europe"), 2);
}
