//! Golden encodings: the committed bytes of format version 1. If one of these tests
//! fails, the wire or storage format changed: bump `FORMAT_VERSION`, keep a decoder
//! for the old version, and only then regenerate with `UPDATE_GOLDEN=1 cargo test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod support;

use std::path::PathBuf;

use cart_core::{AttrPatch, CartState, CausalContext, Replica};
use support::{pair, replicas, sync};

/// A cart that uses every part of the format: two replicas, a gap in a context, a
/// set, concurrent adds, attribute records with every field, and a raised limit.
fn sample() -> (Replica, CartState) {
    let mut rs = replicas(3);
    let shirt = AttrPatch::new()
        .unit_price("29.99")
        .name("Organic cotton shirt")
        .image_url("https://shop.example/img/shirt.jpg")
        .attribute("size", "M")
        .attribute("colour", "navy");
    rs[0].add("itm_shirt", 2, &shirt).unwrap();
    rs[1].add("itm_shirt", 1, &AttrPatch::new()).unwrap();
    rs[1].set_item_limit(5000).unwrap();
    rs[0].add("itm_mug", 3, &AttrPatch::new().unit_price("8.5")).unwrap();
    let (a, b) = pair(&mut rs, 0, 1);
    sync(a, b);
    rs[1].set("itm_mug", 4, &AttrPatch::new()).unwrap();
    let skipped = rs[2].add("itm_sock", 1, &AttrPatch::new()).unwrap();
    let gift = rs[2].add("itm_gift_card", 1, &AttrPatch::new().unit_price("25")).unwrap();
    rs[0].join(&gift);
    rs[0].remove("itm_shirt").unwrap();
    let _ = skipped; // never delivered: replica 3's context has a gap
    let delta = rs[0].add("itm_mug", 1, &AttrPatch::new()).unwrap();
    (rs[0].clone(), delta)
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

fn check(name: &str, bytes: &[u8]) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(committed == bytes, "{name}: the encoding changed; see this file's docs");
}

#[test]
fn binary_state_is_frozen() {
    let (replica, _) = sample();
    check("state-v1.bin", &replica.state().to_bytes());
}

#[test]
fn json_state_is_frozen() {
    let (replica, _) = sample();
    check("state-v1.json", replica.state().to_json().as_bytes());
}

#[test]
fn delta_context_and_replica_are_frozen() {
    let (replica, delta) = sample();
    check("delta-v1.bin", &delta.to_bytes());
    check("context-v1.bin", &replica.context().to_bytes());
    check("replica-v1.bin", &replica.to_bytes());
}

#[test]
fn committed_files_still_decode_to_the_same_cart() {
    let state = CartState::from_bytes(&std::fs::read(golden("state-v1.bin")).unwrap()).unwrap();
    let lines: Vec<(String, u32, Option<String>)> = state
        .lines()
        .map(|l| (l.item.to_string(), l.quantity, l.attrs.unit_price.map(|p| p.to_string())))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("itm_gift_card".to_owned(), 1, Some("25".to_owned())),
            ("itm_mug".to_owned(), 4, Some("8.5".to_owned())),
        ]
    );
    assert_eq!(state.item_limit(), 5000);
    assert_eq!(state.total().to_string(), "59");
    let json = std::fs::read_to_string(golden("state-v1.json")).unwrap();
    assert_eq!(CartState::from_json(&json).unwrap(), state);
    let ctx = CausalContext::from_bytes(&std::fs::read(golden("context-v1.bin")).unwrap()).unwrap();
    assert_eq!(&ctx, state.context());
    assert!(ctx.iter().any(|(_, ranges)| ranges.first().is_some_and(|r| r.0 > 1)), "the gap is kept");
    let replica = Replica::from_bytes(&std::fs::read(golden("replica-v1.bin")).unwrap()).unwrap();
    assert_eq!(replica.state(), &state);
}
