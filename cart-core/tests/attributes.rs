//! Attributes follow the item: found by an adversarial review, each case reproduced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use cart_core::{AttrPatch, CartState, InputError, OpError};
use support::{pair, replicas, sync};

fn price(p: &str) -> AttrPatch {
    AttrPatch::new().unit_price(p)
}

fn shown_price(state: &CartState, item: &str) -> Option<String> {
    state.item(item).and_then(|i| i.attrs()).and_then(|a| a.unit_price).map(|p| p.to_string())
}

/// A checkout (or remove) that read the first add must not strip the price from a
/// second add it did not read, whether that add repeated the price or gave none.
#[test]
fn a_concurrent_add_keeps_its_price_through_a_checkout() {
    for second in [price("29.99"), AttrPatch::new()] {
        let mut rs = replicas(2);
        rs[0].add("itm_shirt", 2, &price("29.99")).unwrap();
        let (phone, server) = pair(&mut rs, 0, 1);
        sync(phone, server);
        let read = rs[1].context().clone();
        rs[0].add("itm_shirt", 1, &second).unwrap();
        let (phone, server) = pair(&mut rs, 0, 1);
        sync(phone, server);
        rs[1].remove_seen(&read).unwrap();
        let (phone, server) = pair(&mut rs, 0, 1);
        sync(phone, server);
        for r in &rs {
            assert_eq!(r.state().quantity("itm_shirt"), 1);
            assert_eq!(shown_price(r.state(), "itm_shirt").as_deref(), Some("29.99"));
            assert_eq!(r.state().total().to_string(), "29.99");
        }
    }
}

/// A quantity-only `set` carries the price it saw; a later price change made
/// concurrently elsewhere must still win.
#[test]
fn a_quantity_only_set_does_not_bring_back_an_old_price() {
    let mut rs = replicas(2);
    rs[0].add("itm_shirt", 1, &price("10")).unwrap();
    let (a, b) = pair(&mut rs, 0, 1);
    sync(a, b);
    rs[1].set("itm_shirt", 3, &AttrPatch::new()).unwrap();
    rs[0].add("itm_shirt", 1, &price("11")).unwrap();
    let (a, b) = pair(&mut rs, 0, 1);
    sync(a, b);
    for r in &rs {
        assert_eq!(r.state().quantity("itm_shirt"), 4);
        assert_eq!(shown_price(r.state(), "itm_shirt").as_deref(), Some("11"));
    }
}

/// Concurrent price changes from the same starting point: the greater replica id wins,
/// on every replica, whatever the delivery order.
#[test]
fn concurrent_price_changes_resolve_by_replica_id() {
    let mut rs = replicas(2);
    rs[0].add("itm_mug", 1, &price("8")).unwrap();
    let (a, b) = pair(&mut rs, 0, 1);
    sync(a, b);
    let d0 = rs[0].add("itm_mug", 1, &price("9")).unwrap();
    let d1 = rs[1].add("itm_mug", 1, &price("7")).unwrap();
    rs[0].join(&d1);
    rs[1].join(&d0);
    assert!(rs[1].id() > rs[0].id());
    for r in &rs {
        assert_eq!(shown_price(r.state(), "itm_mug").as_deref(), Some("7"));
    }
}

/// Repeated adds cannot grow an item without bound: once it shows the limit, more adds
/// are refused, change nothing, and use no counter.
#[test]
fn repeated_adds_stop_at_the_limit() {
    let mut phone = replicas(1).pop().unwrap();
    for _ in 0..999 {
        phone.add("itm_a", 1, &price("1.5")).unwrap();
    }
    let before = (phone.state().to_bytes(), phone.next_counter());
    for _ in 0..10_000 {
        let err = phone.add("itm_a", 1, &AttrPatch::new()).unwrap_err();
        assert!(matches!(err, OpError::Input(InputError::AtLimit { limit: 999 })), "{err}");
    }
    assert_eq!((phone.state().to_bytes(), phone.next_counter()), before);
    // About seven bytes a write: the price is written once for the run of equal writes.
    let bytes = before.0.len();
    assert!(bytes < 999 * 8, "{bytes} bytes for 999 one-unit adds");
    // A set replaces them all.
    phone.set("itm_a", 2, &AttrPatch::new()).unwrap();
    assert!(phone.state().to_bytes().len() < 80);
}
