//! Helpers shared by the integration tests and the fuzz targets.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic
)]

pub mod checks;

use cart_core::{CartState, CausalContext, Replica, ReplicaId};

/// Replica `n`'s fixed id, so failures reproduce.
pub fn rid(n: u8) -> ReplicaId {
    ReplicaId::from_bytes([n; 16])
}

/// `n` replicas with fixed ids 1..=n.
pub fn replicas(n: u8) -> Vec<Replica> {
    (1..=n).map(|i| Replica::with_id(rid(i))).collect()
}

/// Sends a value across a "network": encode, decode, check.
pub fn wire(state: &CartState) -> CartState {
    CartState::from_bytes(&state.to_bytes()).expect("an encoded state decodes")
}

/// One round of the sync protocol, both ways, everything as bytes.
pub fn sync(a: &mut Replica, b: &mut Replica) {
    let a_ctx = CausalContext::from_bytes(&a.context().to_bytes()).expect("context decodes");
    a.join(&wire(&b.delta_since(&a_ctx)));
    let b_ctx = CausalContext::from_bytes(&b.context().to_bytes()).expect("context decodes");
    b.join(&wire(&a.delta_since(&b_ctx)));
}

/// The visible cart as (item, quantity) pairs.
pub fn cart(state: &CartState) -> Vec<(String, u32)> {
    state.lines().map(|l| (l.item.to_string(), l.quantity)).collect()
}

/// Splits a slice into two disjoint mutable references.
pub fn pair<T>(v: &mut [T], i: usize, j: usize) -> (&mut T, &mut T) {
    assert_ne!(i, j);
    if i < j {
        let (a, b) = v.split_at_mut(j);
        (&mut a[i], &mut b[0])
    } else {
        let (a, b) = v.split_at_mut(i);
        (&mut b[0], &mut a[j])
    }
}
