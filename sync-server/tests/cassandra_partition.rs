//! A real network partition between regions: three Cassandra nodes, each in a network
//! namespace of its own (`scripts/netns.sh`), one sync server per region. eu-central is
//! cut off from the other datacenters (its server still reaches it, as a region's own
//! servers would); both sides take changes; the cut heals, and every region converges.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod cluster;

use cart_core::{AttrPatch, Replica};
use cluster::geo::{converge, start_region, stored, sync};
use cluster::{Cluster, Network, fresh_keyspace};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_cut_apart_both_take_changes_and_converge_when_healed() {
    let (network, cluster) = tokio::task::spawn_blocking(|| {
        let network = Network::up("cartpt", 3);
        let (h1, h2, h3) = (network.host(1), network.host(2), network.host(3));
        let cluster = Cluster::start_in(&[
            ("10.77.0.1", "us-west", &h1),
            ("10.77.0.2", "eu-central", &h2),
            ("10.77.0.3", "ap-southeast", &h3),
        ]);
        (network, cluster)
    })
    .await
    .unwrap();
    let keyspace = fresh_keyspace("partition");
    let mut regions = Vec::new();
    for node in &cluster.nodes {
        regions.push(start_region(node, &keyspace).await);
    }
    let client = reqwest::Client::new();
    let mut devices: Vec<(usize, Replica)> = (0..3).map(|at| (at, Replica::new())).collect();
    devices[0].1.add("itm_shirt", 1, &AttrPatch::new().unit_price("29.99")).unwrap();
    devices[1].1.add("itm_mug", 2, &AttrPatch::new().unit_price("8.5")).unwrap();
    converge(&client, &regions, &mut devices, "before the cut").await;

    tokio::task::block_in_place(|| network.cut(2));
    // Both sides take changes: us-west adds; eu-central removes the shirt it saw and adds.
    devices[0].1.add("itm_socks", 3, &AttrPatch::new()).unwrap();
    devices[0].1.add("itm_shirt", 1, &AttrPatch::new()).unwrap();
    devices[1].1.remove("itm_shirt").unwrap();
    devices[1].1.add("itm_hat", 1, &AttrPatch::new()).unwrap();
    for _ in 0..3 {
        assert_eq!(sync(&client, &regions[0], &mut devices[0].1).await, 200, "us-west writes during the cut");
        assert_eq!(
            sync(&client, &regions[1], &mut devices[1].1).await,
            200,
            "eu-central writes during the cut"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // The cut is real: neither side has seen the other's changes.
    assert_eq!(stored(&regions[0]).await.unwrap().quantity("itm_hat"), 0, "us-west saw across the cut");
    assert_eq!(stored(&regions[1]).await.unwrap().quantity("itm_socks"), 0, "eu-central saw across the cut");

    tokio::task::block_in_place(|| network.heal(2));
    let cart = converge(&client, &regions, &mut devices, "after the cut heals").await;
    // The remove took the shirt eu-central saw; us-west's concurrent add survives.
    assert_eq!(cart.quantity("itm_shirt"), 1);
    assert_eq!((cart.quantity("itm_socks"), cart.quantity("itm_hat"), cart.quantity("itm_mug")), (3, 1, 2));
    drop(regions);
    drop(cluster);
    drop(network);
}
