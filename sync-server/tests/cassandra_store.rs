//! The Cassandra store against a real single-node Apache Cassandra (started and stopped
//! by this test): the store conformance suite, and the data model's rules, each from a
//! class of public bug reports about carts kept in Cassandra.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod cluster;
mod conformance;

use std::time::{Duration, Instant};

use cart_core::{AttrPatch, CartState, Replica};
use cluster::{Cluster, fresh_keyspace};
use sync_server::store::CartStore;
use sync_server::store::cassandra::{CassandraConfig, CassandraStore};

/// The add/remove cycles of the tombstone check (the figure).
const CYCLES: usize = 120_000;

async fn store(cluster: &Cluster, keyspace: &str, tune: impl FnOnce(&mut CassandraConfig)) -> CassandraStore {
    let mut config = CassandraConfig::new(cluster.contact_points(), "us-west", "us-west");
    config.keyspace = keyspace.to_owned();
    tune(&mut config);
    CassandraStore::connect(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_passes_the_suite_and_keeps_the_data_model_rules() {
    let cluster = tokio::task::spawn_blocking(|| Cluster::start(&[("127.0.0.1", "us-west")])).await.unwrap();
    let keyspace = fresh_keyspace("store");
    let main = store(&cluster, &keyspace, |_| {}).await;
    conformance::suite(&main, "cassandra").await;

    a_misspelled_datacenter_stops_the_store_at_start(&cluster).await;
    clocks_and_same_millisecond_writes_decide_nothing(&cluster, &keyspace).await;
    replayed_writes_change_nothing(&main).await;
    reads_page_through_many_writers_and_idle_ones_are_absorbed(&cluster, &keyspace, &main).await;
    an_order_cut_short_is_recorded_before_another_replaces_it(&main).await;
    // In a keyspace of its own, so Cassandra's statistics speak of these cycles alone.
    let cycles = fresh_keyspace("cycles");
    add_remove_cycles_leave_no_tombstones(&cluster, &cycles, &store(&cluster, &cycles, |_| {}).await).await;
}

async fn a_misspelled_datacenter_stops_the_store_at_start(cluster: &Cluster) {
    let mut config = CassandraConfig::new(cluster.contact_points(), "us-wset", "us-west");
    config.keyspace = fresh_keyspace("dc");
    let error =
        CassandraStore::connect(config).await.err().expect("a datacenter the cluster lacks is refused");
    assert!(error.contains("'us-wset' is not in this cluster") && error.contains("us-west"), "{error}");
    // The server itself: it exits at start, saying so, before it listens.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["serve", "--store", "cassandra", "--region", "us-west", "--cassandra-local-dc", "us-wset"])
        .args(["--cassandra-contact-points", &cluster.contact_points().join(","), "--listen", "127.0.0.1:0"])
        .args([
            "--cassandra-keyspace",
            &fresh_keyspace("dc"),
            "--token-secret",
            "a-test-secret-of-32-bytes.......",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("error: --store cassandra: local datacenter 'us-wset' is not in this cluster"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

/// A delete and a re-add in the same millisecond, by hosts whose clocks are two hours
/// apart: the cart is what cart-core's join of the changes gives, whatever the clocks.
async fn clocks_and_same_millisecond_writes_decide_nothing(cluster: &Cluster, keyspace: &str) {
    let hour = Duration::from_secs(3600);
    let ahead = store(cluster, keyspace, |c| c.clock_offset = hour).await;
    let behind = store(cluster, keyspace, |c| {
        c.clock_offset = hour;
        c.clock_behind = true;
    })
    .await;
    let cart = "clocks";
    let (mut phone, mut laptop) = (Replica::new(), Replica::new());
    let mut expected = CartState::new();
    let d1 = phone.add("itm_shirt", 1, &AttrPatch::new().unit_price("29.99")).unwrap();
    ahead.merge(cart, d1.clone()).await.unwrap();
    laptop.join(&behind.load(cart).await.unwrap());
    // The laptop's host is two hours behind: a last-write-wins cell would keep the shirt.
    let d2 = laptop.remove("itm_shirt").unwrap();
    behind.merge(cart, d2.clone()).await.unwrap();
    // In the same millisecond, the phone (which never saw the remove) adds another.
    let d3 = phone.add("itm_shirt", 1, &AttrPatch::new()).unwrap();
    ahead.merge(cart, d3.clone()).await.unwrap();
    // And the laptop removes and re-adds a mug within one millisecond.
    let d4 = laptop.add("itm_mug", 2, &AttrPatch::new()).unwrap();
    let d5 = laptop.remove("itm_mug").unwrap();
    let d6 = laptop.add("itm_mug", 1, &AttrPatch::new()).unwrap();
    for d in [&d4, &d5, &d6] {
        behind.merge(cart, d.clone()).await.unwrap();
    }
    for d in [d1, d2, d3, d4, d5, d6] {
        expected.join(&d);
    }
    assert_eq!(expected.quantity("itm_shirt"), 1, "the add the remove never saw survives");
    assert_eq!(expected.quantity("itm_mug"), 1);
    for (name, s) in [("ahead", &ahead), ("behind", &behind)] {
        assert_eq!(
            s.load(cart).await.unwrap().to_bytes(),
            expected.to_bytes(),
            "read through the host {name}"
        );
    }
}

/// A write retried after a timeout, whose first attempt had landed, or a late copy of an
/// older write: each is the same statement again, and changes nothing.
async fn replayed_writes_change_nothing(store: &CassandraStore) {
    let cart = "replays";
    let mut phone = Replica::new();
    store.merge(cart, phone.add("itm_a", 1, &AttrPatch::new()).unwrap()).await.unwrap();
    let (old_state, old_ts) = own_row(store, cart).await;
    store.merge(cart, phone.remove("itm_a").unwrap()).await.unwrap();
    store.merge(cart, phone.add("itm_b", 1, &AttrPatch::new()).unwrap()).await.unwrap();
    let (new_state, new_ts) = own_row(store, cart).await;
    let before = store.load(cart).await.unwrap().to_bytes();
    for (state, ts) in [(old_state, old_ts), (new_state.clone(), new_ts), (new_state, new_ts)] {
        store
            .session()
            .query_unpaged(
                format!(
                    "INSERT INTO {}.cart_rows (cart_id, writer, state) VALUES (?, ?, ?) USING TIMESTAMP ?",
                    store.keyspace()
                ),
                (cart, store.writer(), state, ts),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.load(cart).await.unwrap().to_bytes(), before);
    assert_eq!(store.load(cart).await.unwrap().to_bytes(), phone.state().to_bytes());
}

async fn own_row(store: &CassandraStore, cart: &str) -> (Vec<u8>, i64) {
    let rows = store
        .session()
        .query_unpaged(
            format!(
                "SELECT state, writetime(state) FROM {}.cart_rows WHERE cart_id = ? AND writer = ?",
                store.keyspace()
            ),
            (cart, store.writer()),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    rows.first_row::<(Vec<u8>, i64)>().unwrap()
}

async fn row_count(store: &CassandraStore, cart: &str) -> usize {
    let rows = store
        .session()
        .query_unpaged(
            format!("SELECT writer FROM {}.cart_rows WHERE cart_id = ?", store.keyspace()),
            (cart,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    rows.rows_num()
}

/// 150 writers' rows (more than two pages) all count; a writer whose rows have been
/// idle is absorbed by the next write, which loses none of what they held.
async fn reads_page_through_many_writers_and_idle_ones_are_absorbed(
    cluster: &Cluster,
    keyspace: &str,
    main: &CassandraStore,
) {
    let cart = "writers";
    let mut expected = CartState::new();
    for i in 0..150 {
        let mut device = Replica::new();
        let delta = device.add(&format!("itm_{i:03}"), 1, &AttrPatch::new()).unwrap();
        expected.join(&delta);
        main.session()
            .query_unpaged(
                format!(
                    "INSERT INTO {keyspace}.cart_rows (cart_id, writer, state, written_at) VALUES (?, ?, ?, ?)"
                ),
                (cart, format!("old-region/{i}"), delta.to_bytes(), scylla::value::CqlTimestamp(0)),
            )
            .await
            .unwrap();
    }
    assert_eq!(main.load(cart).await.unwrap().len(), 150);
    let absorber = store(cluster, keyspace, |c| c.absorb_idle_after = Duration::ZERO).await;
    absorber.load(cart).await.unwrap();
    let mut phone = Replica::new();
    let delta = phone.add("itm_new", 1, &AttrPatch::new()).unwrap();
    expected.join(&delta);
    absorber.merge(cart, delta).await.unwrap();
    assert_eq!(row_count(main, cart).await, 1, "the idle writers' rows were absorbed");
    assert_eq!(main.load(cart).await.unwrap().to_bytes(), expected.to_bytes());
}

/// A checkout whose transaction committed but whose recording by id and key was cut
/// short (the process died, a write timed out) is still found by its key, also after a
/// later checkout replaces it on the checkout row; a key whose order row has not arrived
/// yet is "retry later", never "no order".
async fn an_order_cut_short_is_recorded_before_another_replaces_it(store: &CassandraStore) {
    use sync_server::store::{Order, StoreError};
    let cart = "cut-short";
    let mut phone = Replica::new();
    let order = |id: &str, key: &str| Order {
        order_id: id.to_owned(),
        cart_id: cart.to_owned(),
        user_id: "usr_cut".to_owned(),
        idempotency_key: key.to_owned(),
        items: Vec::new(),
        total: "0".to_owned(),
        context: serde_json::json!({}),
        region: "us-west".to_owned(),
        created_at: "2026-12-04T00:00:00Z".to_owned(),
    };
    let checkout = |id: &'static str, key: &'static str, phone: &mut Replica| {
        let delta = phone.add(&format!("itm_{id}"), 1, &AttrPatch::new()).unwrap();
        (delta, order(id, key))
    };
    let (delta, first) = checkout("o1", "k1", &mut phone);
    store.merge(cart, delta).await.unwrap();
    let read = store.load_for_checkout(cart).await.unwrap();
    let mut taker = Replica::new();
    taker.join(&read);
    let removal = taker.remove_seen(read.context()).unwrap();
    assert_eq!(store.commit_checkout(cart, &read, removal, first.clone()).await.unwrap(), first);
    // Cut short: the order's rows by id and by key are gone; only the checkout row knows it.
    let ks = store.keyspace().to_owned();
    let session = store.session();
    session.query_unpaged(format!("DELETE FROM {ks}.orders WHERE order_id = 'o1'"), ()).await.unwrap();
    session
        .query_unpaged(
            format!("DELETE FROM {ks}.order_keys WHERE cart_id = ? AND idempotency_key = 'k1'"),
            (cart,),
        )
        .await
        .unwrap();
    // A second checkout replaces the checkout row's order; the first is recorded first.
    let (delta, second) = checkout("o2", "k2", &mut phone);
    store.merge(cart, delta).await.unwrap();
    let read = store.load_for_checkout(cart).await.unwrap();
    let mut taker = Replica::new();
    taker.join(&read);
    let removal = taker.remove_seen(read.context()).unwrap();
    assert_eq!(store.commit_checkout(cart, &read, removal, second.clone()).await.unwrap(), second);
    assert_eq!(store.order_for_key(cart, "k1").await.unwrap(), Some(first), "the first order was lost");
    assert_eq!(store.order_for_key(cart, "k2").await.unwrap(), Some(second));
    // The key has arrived, its order row not yet: retry later, not "no such order".
    session.query_unpaged(format!("DELETE FROM {ks}.orders WHERE order_id = 'o2'"), ()).await.unwrap();
    assert!(matches!(store.order_for_key(cart, "k2").await, Err(StoreError::Unavailable(_))));
}

/// 120,000 add/remove cycles of one item: each overwrites one cell, so Cassandra holds
/// no tombstone for the cart, and a read of it scans no more than a read of a cart
/// written once.
async fn add_remove_cycles_leave_no_tombstones(cluster: &Cluster, keyspace: &str, store: &CassandraStore) {
    let table = format!("{keyspace}.cart_rows");
    let max_tombstones_per_read = || {
        let stats = cluster.nodetool(1, &["tablestats", &table]);
        stats
            .lines()
            .find(|l| l.contains("Maximum tombstones per slice"))
            .and_then(|l| l.rsplit(':').next())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no tombstone figure in:\n{stats}"))
    };
    // The yardstick: a cart written once, never removed from.
    let mut other = Replica::new();
    store.merge("written-once", other.add("itm_hat", 1, &AttrPatch::new()).unwrap()).await.unwrap();
    cluster.nodetool(1, &["flush", keyspace]);
    self::store(cluster, keyspace, |_| {}).await.load("written-once").await.unwrap();
    let yardstick = max_tombstones_per_read();

    let cart = "cycles";
    let mut phone = Replica::new();
    let started = Instant::now();
    for _ in 0..CYCLES {
        store.merge(cart, phone.add("itm_sock", 1, &AttrPatch::new()).unwrap()).await.unwrap();
        store.merge(cart, phone.remove("itm_sock").unwrap()).await.unwrap();
    }
    let writing = started.elapsed();
    store.merge(cart, phone.add("itm_sock", 2, &AttrPatch::new()).unwrap()).await.unwrap();
    cluster.nodetool(1, &["flush", keyspace]);
    let reader = self::store(cluster, keyspace, |_| {}).await;
    let started = Instant::now();
    let state = reader.load(cart).await.unwrap();
    let reading = started.elapsed();
    assert_eq!(state.quantity("itm_sock"), 2);
    assert_eq!(state.to_bytes(), phone.state().to_bytes());
    assert!(state.to_bytes().len() < 200, "the cart stays small: {} bytes", state.to_bytes().len());
    assert_eq!(max_tombstones_per_read(), yardstick, "the cycles' cart reads more than a cart written once");
    let on_disk = cluster.sstabledump(1, &table);
    assert!(on_disk.contains("\"cycles\""), "the dump holds the cart: {on_disk}");
    for marker in ["deletion_info", "range_tombstone", "\"deleted\""] {
        assert!(!on_disk.contains(marker), "a tombstone ({marker}) on disk:\n{on_disk}");
    }
    let warned =
        cluster.log(1).lines().any(|l| l.contains(keyspace) && l.to_lowercase().contains("tombstone"));
    assert!(!warned, "Cassandra warned about tombstones in {keyspace}");
    eprintln!(
        "{CYCLES} add/remove cycles: {writing:?} to write ({:.0} merges/s); the cart then read in {reading:?}",
        (2 * CYCLES) as f64 / writing.as_secs_f64()
    );
}
