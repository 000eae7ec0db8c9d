//! A replica's id and next counter are persisted with its state, and never reused.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod support;

use cart_core::{AttrPatch, CartState, Dot, OpError, Replica};
use support::replicas;

#[test]
fn a_restored_replica_continues_its_counters() {
    let mut phone = Replica::new();
    phone.add("itm_a", 1, &AttrPatch::new()).unwrap();
    phone.remove("itm_a").unwrap();
    let saved = phone.to_bytes();
    let mut back = Replica::from_bytes(&saved).unwrap();
    assert_eq!(back.id(), phone.id());
    assert_eq!(back.next_counter(), phone.next_counter());
    let a = phone.add("itm_b", 1, &AttrPatch::new()).unwrap();
    let b = back.add("itm_b", 1, &AttrPatch::new()).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes(), "same replica, same next step");
}

#[test]
fn a_stale_snapshot_never_reuses_a_dot_it_sees_elsewhere() {
    let mut phone = replicas(1).pop().unwrap();
    let stale = phone.to_bytes();
    let sent = phone.add("itm_a", 1, &AttrPatch::new()).unwrap();
    // The device restores an old snapshot, then hears its own change back from the server.
    let mut restored = Replica::from_bytes(&stale).unwrap();
    assert_eq!(restored.next_counter(), 1);
    restored.join(&sent);
    assert_eq!(restored.next_counter(), 2);
    let next = restored.add("itm_b", 1, &AttrPatch::new()).unwrap();
    assert!(!next.context().includes(sent.context()) || next.context() != sent.context());
    let mut merged = CartState::new();
    merged.join(&sent);
    merged.join(&next);
    assert_eq!(merged.len(), 2, "both changes survive: no dot was minted twice");
}

#[test]
fn fresh_replicas_have_distinct_random_ids() {
    let ids: std::collections::BTreeSet<_> = (0..1000).map(|_| Replica::new().id()).collect();
    assert_eq!(ids.len(), 1000);
    let text = Replica::new().id().to_string();
    assert_eq!(text.as_bytes()[14], b'4', "a version-4 UUID: {text}");
}

#[test]
fn an_exhausted_replica_refuses_and_changes_nothing() {
    let mut rs = replicas(2);
    let own = rs[0].id();
    // A state that claims this replica's last possible counter (say, from a forged peer).
    let forged = format!(
        r#"{{"format":"cart-state","version":1,"context":{{"{own}":"{}"}},"item_limit":[],"items":{{}}}}"#,
        Dot::MAX_COUNTER
    );
    rs[0].join(&CartState::from_json(&forged).unwrap());
    let before = rs[0].state().to_bytes();
    let err = rs[0].add("itm_a", 1, &AttrPatch::new()).unwrap_err();
    assert!(matches!(err, OpError::CountersExhausted(id) if id == own), "{err}");
    assert!(err.to_string().contains("new replica id"));
    assert_eq!(rs[0].state().to_bytes(), before);
}
