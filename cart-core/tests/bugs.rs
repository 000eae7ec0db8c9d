//! Bug classes reported against other CRDT libraries, each reproduced here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use cart_core::{AttrPatch, CartState, CausalContext};
use support::{cart, pair, replicas, sync, wire};

fn none() -> AttrPatch {
    AttrPatch::new()
}

/// A removal undone by merging a stale copy through a third replica: the tablet
/// copied the cart before the phone removed the shirt, and later hands its stale copy
/// to the laptop, which had already seen the removal.
#[test]
fn stale_copy_through_a_third_replica_does_not_undo_a_removal() {
    let mut rs = replicas(3);
    rs[0].add("itm_shirt", 1, &none()).unwrap();
    let (phone, laptop) = pair(&mut rs, 0, 1);
    sync(phone, laptop);
    let stale = wire(rs[1].state());
    rs[2].join(&stale);
    rs[0].remove("itm_shirt").unwrap();
    let (phone, laptop) = pair(&mut rs, 0, 1);
    sync(phone, laptop);
    // Whole state of the stale tablet, then anti-entropy from it, both ways.
    let tablet_state = wire(rs[2].state());
    rs[1].join(&tablet_state);
    assert!(cart(rs[1].state()).is_empty());
    let (laptop, tablet) = pair(&mut rs, 1, 2);
    sync(tablet, laptop);
    for r in &rs {
        assert!(cart(r.state()).is_empty(), "{} shows {:?}", r.id(), cart(r.state()));
    }
}

/// A change made only of removals must move a counter, or anti-entropy that compares
/// version vectors never sends it.
#[test]
fn a_removal_only_change_is_sent_by_anti_entropy() {
    let mut rs = replicas(2);
    rs[0].add("itm_a", 1, &none()).unwrap();
    rs[0].add("itm_b", 1, &none()).unwrap();
    let (phone, laptop) = pair(&mut rs, 0, 1);
    sync(phone, laptop);
    let before: CausalContext = rs[0].context().clone();
    rs[0].remove("itm_a").unwrap();
    assert!(!before.includes(rs[0].context()), "the removal must move the phone's counter");
    let delta = rs[0].delta_since(rs[1].context());
    assert!(!delta.is_empty(), "anti-entropy must have something to send");
    rs[1].join(&wire(&delta));
    assert_eq!(cart(rs[1].state()), vec![("itm_b".to_owned(), 1)]);
    // The same for clear and for a checkout-style removal of what was read.
    rs[0].clear().unwrap();
    let seen = rs[1].context().clone();
    rs[1].add("itm_c", 1, &none()).unwrap();
    let (phone, laptop) = pair(&mut rs, 0, 1);
    sync(phone, laptop);
    rs[1].remove_seen(&seen).unwrap();
    let (phone, laptop) = pair(&mut rs, 0, 1);
    sync(phone, laptop);
    assert_eq!(cart(rs[0].state()), vec![("itm_c".to_owned(), 1)]);
    assert_eq!(rs[0].state().to_bytes(), rs[1].state().to_bytes());
}

/// A delta path must end in the same bytes as the whole-state path, also when an
/// attribute record is replaced (its quantity write stays alive) and when a clear
/// arrives before the set it clears.
#[test]
fn delta_path_and_state_path_end_in_the_same_bytes() {
    let mut rs = replicas(3);
    let mut deltas = Vec::new();
    deltas.push(rs[0].add("itm_mug", 1, &AttrPatch::new().unit_price("8.50")).unwrap());
    deltas.push(rs[1].add("itm_mug", 2, &AttrPatch::new().unit_price("8.50")).unwrap());
    let (a, b) = pair(&mut rs, 0, 1);
    sync(a, b);
    deltas.push(rs[0].add("itm_mug", 1, &AttrPatch::new().unit_price("7.95")).unwrap());
    deltas.push(rs[1].set("itm_mug", 5, &none()).unwrap());
    deltas.push(rs[1].clear().unwrap());
    deltas.push(rs[2].add("itm_mug", 1, &none()).unwrap());
    // Whole states.
    let mut by_state = CartState::new();
    for r in &rs {
        by_state.join(r.state());
    }
    // Deltas, last first, with the clear before the set it cleared.
    let mut by_delta = CartState::new();
    for d in deltas.iter().rev() {
        by_delta.join(&wire(d));
    }
    assert_eq!(by_delta.to_bytes(), by_state.to_bytes());
    // Anti-entropy after a partial, out-of-order delivery converges as well.
    let mut late = replicas(4).pop().unwrap();
    late.join(&deltas[4]);
    late.join(&deltas[1]);
    for r in &mut rs {
        sync(r, &mut late);
    }
    assert_eq!(late.state().to_bytes(), by_state.to_bytes());
}

/// Crafted bytes must give errors, never panics: every prefix, every single-byte
/// change of a real encoding, and hand-made hostile bodies.
#[test]
fn decoder_does_not_panic_on_crafted_bytes() {
    let mut rs = replicas(2);
    rs[0].add("itm_a", 2, &AttrPatch::new().unit_price("1.5").name("Mug").attribute("size", "L")).unwrap();
    rs[1].add("itm_b", 1, &none()).unwrap();
    rs[1].set_item_limit(50).unwrap();
    let (a, b) = pair(&mut rs, 0, 1);
    sync(a, b);
    rs[0].remove("itm_b").unwrap();
    let good = rs[0].state().to_bytes();
    for end in 0..good.len() {
        assert!(CartState::from_bytes(&good[..end]).is_err(), "prefix of {end} bytes decoded");
    }
    for i in 0..good.len() {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xff, good[i].wrapping_add(1)] {
            let mut bad = good.clone();
            bad[i] = v;
            support::checks::decode_anything(&bad);
        }
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(CartState::from_bytes(&trailing).is_err());
    let max = u64::MAX.to_le_bytes();
    let hostile: Vec<Vec<u8>> = vec![
        // A list length of 2^64 - 1 replicas.
        [b"CART\x01".as_slice(), &[0xff; 10], &[0x01]].concat(),
        // One replica, a context range ending at u64::MAX.
        [b"CART\x01\x01".as_slice(), &[7; 16], &[1, 0, 1, 0], &[0xff; 9], &[0x01], &[0, 0]].concat(),
        // A store dot for a replica index outside the table.
        [b"CART\x01\x01".as_slice(), &[7; 16], &[1, 0, 1, 0, 0], &[1, 5, 0x01, 0x01, 5, 0x01], &[0, 0]]
            .concat(),
        // The wrong magic, a future version, nothing at all.
        b"CARX\x01".to_vec(),
        b"CART\x02".to_vec(),
        Vec::new(),
        max.to_vec(),
    ];
    for bytes in &hostile {
        assert!(CartState::from_bytes(bytes).is_err(), "{bytes:?} decoded");
        support::checks::decode_anything(bytes);
    }
}

/// A context that claims a dot the state does not hold reads as "removed": decoders
/// refuse store entries outside the context, and a counter at `u64::MAX` is refused.
#[test]
fn contexts_must_cover_the_store_and_counters_stay_in_range() {
    let mut phone = replicas(1).pop().unwrap();
    phone.add("itm_a", 1, &none()).unwrap();
    let json = phone.state().to_json();
    let outside = json.replace("\"1\"}", "\"2\"}").replace("\"dot\":\"1@", "\"dot\":\"3@");
    let err = CartState::from_json(&outside).unwrap_err();
    assert!(err.to_string().contains("not in the context"), "{err}");
    let huge = json.replace("\"1\"}", &format!("\"1-{}\"}}", u64::MAX));
    let err = CartState::from_json(&huge).unwrap_err();
    assert!(err.to_string().contains("out of bounds"), "{err}");
    let bad_price = json.replace(r#""version":"0"}"#, r#""version":"0","attributes":{"unit_price":"-2"}}"#);
    assert_ne!(bad_price, json);
    assert!(CartState::from_json(&bad_price).is_err());
}
