//! Anti-entropy as pure functions: the caller moves bytes, this module decides what
//! they must hold.
//!
//! The protocol between two replicas (a device and its region, or two regions) is:
//!
//! 1. A sends its [`CausalContext`] (what it has seen).
//! 2. B answers with `B.delta_since(&a_context)` and its own context.
//! 3. A joins that delta and answers with `A.delta_since(&b_context)`; B joins it.
//!
//! Deltas returned by operations may also be pushed as they happen, in any order, any
//! number of times; a lost one is repaired by the next round of the protocol.

use crate::context::CausalContext;
use crate::dot::Dot;
use crate::state::{CartState, ItemState};

impl CartState {
    /// What a peer that has seen `peer` lacks to reach this state: every live write it
    /// has not seen, and every removal it may not know of.
    ///
    /// Joining the result into the peer gives exactly what joining this whole state
    /// would (law L3). The result's context is this state's context less the live dots
    /// the peer already has, because those writes are not in the delta and must not
    /// read as removed. It is empty when the peer has seen everything this state has.
    #[must_use]
    pub fn delta_since(&self, peer: &CausalContext) -> CartState {
        if peer.includes(&self.context) {
            return CartState::new();
        }
        let known_live: Vec<Dot> = self
            .live_dots()
            .into_iter()
            .filter(|d| peer.contains(d))
            .collect();
        let unseen = |d: &&Dot| !peer.contains(d);
        let mut delta = CartState {
            context: self.context.without_sorted(&known_live),
            ..CartState::new()
        };
        for (id, item) in &self.items {
            let fresh = ItemState {
                qty: item
                    .qty
                    .iter()
                    .filter(|(d, _)| unseen(d))
                    .map(|(d, w)| (*d, *w))
                    .collect(),
                attrs: item
                    .attrs
                    .iter()
                    .filter(|(d, _)| unseen(d))
                    .map(|(d, a)| (*d, a.clone()))
                    .collect(),
            };
            if !fresh.qty.is_empty() {
                delta.items.insert(id.clone(), fresh);
            }
        }
        delta.limit = self
            .limit
            .iter()
            .filter(|(d, _)| unseen(d))
            .map(|(d, l)| (*d, *l))
            .collect();
        delta
    }
}
