//! The store conformance suite: what every `CartStore` must do, run against the
//! embedded store (`tests/store.rs`) and a real Cassandra (`tests/cassandra.rs`).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use cart_core::{AttrPatch, CartState, Replica};
use sync_server::store::{CartStore, Order, OrderLine};

/// Runs every check; cart ids start with `prefix`, so runs sharing a store do not meet.
pub async fn suite(store: &dyn CartStore, prefix: &str) {
    a_cart_never_written_is_empty(store, prefix).await;
    merges_join_and_say_whether_they_changed_anything(store, prefix).await;
    deltas_in_any_order_and_again_give_the_same_bytes(store, prefix).await;
    removals_stay_removed(store, prefix).await;
    checkout_stores_the_order_once_per_key(store, prefix).await;
    every_written_cart_is_listed(store, prefix).await;
    interleaved_reads_and_writes_lose_nothing(store, prefix).await;
    a_cart_of_6000_lines_loads_whole(store, prefix).await;
}

fn price(i: usize) -> AttrPatch {
    AttrPatch::new().unit_price(format!("{}.{:02}", i % 50, i % 100))
}

async fn a_cart_never_written_is_empty(store: &dyn CartStore, prefix: &str) {
    let state = store.load(&format!("{prefix}-never")).await.unwrap();
    assert!(state.is_empty(), "a cart never written loads empty");
}

async fn merges_join_and_say_whether_they_changed_anything(store: &dyn CartStore, prefix: &str) {
    let cart = format!("{prefix}-merge");
    let mut phone = Replica::new();
    let d1 = phone.add("itm_shirt", 2, &price(1)).unwrap();
    let merged = store.merge(&cart, d1.clone()).await.unwrap();
    assert!(merged.changed);
    assert_eq!(merged.state.to_bytes(), phone.state().to_bytes());
    assert!(!store.merge(&cart, d1).await.unwrap().changed, "a delta delivered again changes nothing");
    assert!(!store.merge(&cart, CartState::new()).await.unwrap().changed);
    assert_eq!(store.load(&cart).await.unwrap().to_bytes(), phone.state().to_bytes());
}

async fn deltas_in_any_order_and_again_give_the_same_bytes(store: &dyn CartStore, prefix: &str) {
    let cart = format!("{prefix}-order");
    let (mut phone, mut laptop) = (Replica::new(), Replica::new());
    let mut deltas = Vec::new();
    for i in 0..30 {
        let item = format!("itm_{}", i % 7);
        let (r, other) = if i % 2 == 0 { (&mut phone, &mut laptop) } else { (&mut laptop, &mut phone) };
        let delta = match i % 5 {
            3 => r.remove(&item).unwrap(),
            4 => r.set(&item, 3, &price(i)).unwrap(),
            _ => r.add(&item, 1, &price(i)).unwrap(),
        };
        if i % 3 == 0 {
            other.join(&delta);
        }
        deltas.push(delta);
    }
    let mut expected = CartState::new();
    for d in &deltas {
        expected.join(d);
    }
    // Newest first, then every other one again.
    for d in deltas.iter().rev().chain(deltas.iter().step_by(2)) {
        store.merge(&cart, d.clone()).await.unwrap();
    }
    assert_eq!(store.load(&cart).await.unwrap().to_bytes(), expected.to_bytes());
}

async fn removals_stay_removed(store: &dyn CartStore, prefix: &str) {
    let cart = format!("{prefix}-remove");
    let mut phone = Replica::new();
    let stale = phone.add("itm_mug", 1, &price(3)).unwrap();
    store.merge(&cart, stale.clone()).await.unwrap();
    store.merge(&cart, phone.remove("itm_mug").unwrap()).await.unwrap();
    store.merge(&cart, stale).await.unwrap();
    assert!(store.load(&cart).await.unwrap().is_empty_cart(), "a stale add brought a removed item back");
}

async fn checkout_stores_the_order_once_per_key(store: &dyn CartStore, prefix: &str) {
    let cart = format!("{prefix}-checkout");
    let mut phone = Replica::new();
    store
        .merge(&cart, phone.add("itm_shirt", 2, &AttrPatch::new().unit_price("29.99")).unwrap())
        .await
        .unwrap();
    let read = store.load_for_checkout(&cart).await.unwrap();
    let order = |id: &str| Order {
        order_id: id.to_owned(),
        cart_id: cart.clone(),
        user_id: "usr_conformance".to_owned(),
        idempotency_key: "key-1".to_owned(),
        items: vec![OrderLine {
            item_id: "itm_shirt".into(),
            quantity: 2,
            unit_price: Some("29.99".into()),
            line_total: Some("59.98".into()),
            name: None,
        }],
        total: "59.98".to_owned(),
        context: serde_json::json!({}),
        region: "test".to_owned(),
        created_at: "2026-12-04T00:00:00Z".to_owned(),
    };
    let mut taker = Replica::restore(cart_core::ReplicaId::random(), 1, read.as_ref().clone());
    let removal = taker.remove_seen(read.context()).unwrap();
    let first = format!("{prefix}-ord-1");
    let stored = store.commit_checkout(&cart, &read, removal.clone(), order(&first)).await.unwrap();
    assert_eq!(stored.order_id, first);
    assert!(store.load(&cart).await.unwrap().is_empty_cart(), "the checkout took what it read");
    assert_eq!(store.order_for_key(&cart, "key-1").await.unwrap().unwrap(), stored);
    assert_eq!(store.order(&first).await.unwrap().unwrap(), stored);
    assert!(store.order_for_key(&cart, "key-2").await.unwrap().is_none());
    assert!(store.order(&format!("{prefix}-no-such-order")).await.unwrap().is_none());
    // The same key again: the first order holds, nothing else is taken.
    let again = store
        .commit_checkout(&cart, &store.load(&cart).await.unwrap(), removal, order("other"))
        .await
        .unwrap();
    assert_eq!(again, stored);
    // An add made after the read stays in the cart.
    store.merge(&cart, phone.add("itm_mug", 1, &AttrPatch::new()).unwrap()).await.unwrap();
    assert_eq!(store.load(&cart).await.unwrap().quantity("itm_mug"), 1);
}

async fn every_written_cart_is_listed(store: &dyn CartStore, prefix: &str) {
    let ids = store.cart_ids().await.unwrap();
    for suffix in ["merge", "order", "remove", "checkout"] {
        assert!(ids.contains(&format!("{prefix}-{suffix}")), "{prefix}-{suffix} is not listed");
    }
}

/// Reads interleaved with writes of the same cart lose none of the writes.
async fn interleaved_reads_and_writes_lose_nothing(store: &dyn CartStore, prefix: &str) {
    let cart = format!("{prefix}-race");
    let mut phone = Replica::new();
    let deltas: Vec<CartState> =
        (0..200).map(|i| phone.add(&format!("itm_{i:03}"), 1, &price(i)).unwrap()).collect();
    let writes = async {
        for d in &deltas {
            store.merge(&cart, d.clone()).await.unwrap();
        }
    };
    let reads = async {
        for _ in 0..200 {
            store.load(&cart).await.unwrap();
            tokio::task::yield_now().await;
        }
    };
    tokio::join!(writes, reads, async {
        for _ in 0..200 {
            store.load(&cart).await.unwrap();
        }
    });
    assert_eq!(store.load(&cart).await.unwrap().to_bytes(), phone.state().to_bytes());
}

/// Reads page through everything: no line is cut off at a page boundary.
async fn a_cart_of_6000_lines_loads_whole(store: &dyn CartStore, prefix: &str) {
    let cart = format!("{prefix}-big");
    let mut phone = Replica::new();
    let mut delta = CartState::new();
    for i in 0..6000 {
        delta.join(&phone.add(&format!("itm_{i:05}"), 1, &price(i)).unwrap());
        if i % 1000 == 999 {
            store.merge(&cart, std::mem::take(&mut delta)).await.unwrap();
        }
    }
    let state = store.load(&cart).await.unwrap();
    assert_eq!(state.len(), 6000);
    assert_eq!(state.to_bytes(), phone.state().to_bytes());
}
