//! The embedded store: the conformance suite, and its snapshot plus log of deltas:
//! whatever the log's length, a reopened store reads exactly the cart that was acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod conformance;

use cart_core::{AttrPatch, Replica};
use sync_server::store::CartStore;
use sync_server::store::embedded::{COMPACT_AFTER, EmbeddedStore};

#[tokio::test]
async fn the_embedded_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    conformance::suite(&store, "embedded").await;
}

#[tokio::test]
async fn snapshots_and_logs_read_back_the_same_cart() {
    let dir = tempfile::tempdir().unwrap();
    let mut phone = Replica::new();
    let total = COMPACT_AFTER * 3 + 7;
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        for i in 0..total {
            let item = format!("itm_{}", i % 13);
            let delta = if i % 5 == 4 {
                phone.remove(&item).unwrap()
            } else {
                phone.add(&item, 1, &AttrPatch::new().unwrap_or_price(i)).unwrap()
            };
            let merged = store.merge("cart-x", delta.clone()).await.unwrap();
            assert_eq!(merged.state.to_bytes(), phone.state().to_bytes(), "after {i} writes");
            // A delta delivered again changes nothing and writes nothing.
            assert!(!store.merge("cart-x", delta).await.unwrap().changed);
        }
        assert_eq!(store.load("cart-x").await.unwrap().to_bytes(), phone.state().to_bytes());
        assert_eq!(store.cart_ids().await.unwrap(), vec!["cart-x".to_owned()]);
    }
    // Reopened: nothing cached, so the snapshot and the log are read from disk. (The
    // old writer thread lets go of the file once it sees the store dropped.)
    let mut reopened = EmbeddedStore::open(dir.path());
    for _ in 0..100 {
        if reopened.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        reopened = EmbeddedStore::open(dir.path());
    }
    let store = reopened.unwrap();
    assert_eq!(store.load("cart-x").await.unwrap().to_bytes(), phone.state().to_bytes());
    phone.add("itm_after", 1, &AttrPatch::new()).unwrap();
    let merged = store.merge("cart-x", phone.state().clone()).await.unwrap();
    assert_eq!(merged.state.to_bytes(), phone.state().to_bytes());
    assert!(store.load("cart-never-written").await.unwrap().is_empty());
}

trait PriceOf {
    fn unwrap_or_price(self, i: u64) -> Self;
}

impl PriceOf for AttrPatch {
    fn unwrap_or_price(self, i: u64) -> Self {
        if i.is_multiple_of(3) { self.unit_price(format!("{}.5", i % 7)) } else { self }
    }
}
