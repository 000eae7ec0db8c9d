//! L5: once replicas have synced, a cart's size depends on its live items and the
//! replicas that wrote to it, not on how many adds and removes it has seen.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod support;

use cart_core::AttrPatch;
use support::{pair, replicas, sync};

/// Sizes (phone, laptop) after `cycles` add/remove cycles on the phone and one sync.
fn sizes_after(cycles: usize, keep_one: bool) -> (usize, usize) {
    let mut rs = replicas(2);
    let price = AttrPatch::new().unit_price("19.99").name("Shirt");
    for _ in 0..cycles {
        rs[0].add("itm_shirt", 1, &price).unwrap();
        rs[0].remove("itm_shirt").unwrap();
    }
    if keep_one {
        rs[0].add("itm_shirt", 2, &price).unwrap();
    }
    rs[1].add("itm_sock", 1, &AttrPatch::new()).unwrap();
    let (phone, laptop) = pair(&mut rs, 0, 1);
    sync(phone, laptop);
    assert_eq!(rs[0].state().to_bytes(), rs[1].state().to_bytes());
    (rs[0].state().to_bytes().len(), rs[1].state().to_bytes().len())
}

#[test]
fn ten_thousand_cycles_cost_no_more_than_one() {
    for keep_one in [false, true] {
        let (one, _) = sizes_after(1, keep_one);
        let (many, laptop) = sizes_after(10_000, keep_one);
        eprintln!("keep_one={keep_one}: 1 cycle {one} bytes, 10,000 cycles {many} bytes");
        // Only the phone's highest counter grows, from a one-byte varint to a three-byte one.
        assert!(many <= one + 2, "1 cycle: {one} bytes, 10,000 cycles: {many} bytes");
        assert_eq!(many, laptop);
    }
}

/// The same with the cycles spread over two replicas that sync in between, so that
/// removals of one replica's writes happen at the other.
#[test]
fn cycles_across_replicas_leave_no_tombstones() {
    let measure = |cycles: usize| {
        let mut rs = replicas(2);
        for i in 0..cycles {
            let (adder, remover) = if i % 2 == 0 { (0, 1) } else { (1, 0) };
            rs[adder].add("itm_a", 1, &AttrPatch::new()).unwrap();
            let (a, b) = pair(&mut rs, adder, remover);
            sync(a, b);
            rs[remover].remove("itm_a").unwrap();
            let (a, b) = pair(&mut rs, adder, remover);
            sync(a, b);
        }
        rs[0].state().to_bytes().len()
    };
    let (one, many) = (measure(2), measure(2_000));
    assert!(many <= one + 4, "2 cycles: {one} bytes, 2,000 cycles: {many} bytes");
}
