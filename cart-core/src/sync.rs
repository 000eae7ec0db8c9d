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
        let known_live: Vec<Dot> = self.live_dots().into_iter().filter(|d| peer.contains(d)).collect();
        let unseen = |d: &&Dot| !peer.contains(d);
        let mut delta = CartState { context: self.context.without_sorted(&known_live), ..CartState::new() };
        for (id, item) in &self.items {
            let fresh = ItemState {
                writes: item.writes.iter().filter(|(d, _)| unseen(d)).map(|(d, w)| (*d, w.clone())).collect(),
            };
            if !fresh.writes.is_empty() {
                delta.items.insert(id.clone(), fresh);
            }
        }
        delta.limit = self.limit.iter().filter(|(d, _)| unseen(d)).map(|(d, l)| (*d, *l)).collect();
        delta
    }
}

/// What one side of a sync sends: what it has seen, and what it thinks the other lacks
/// (an empty delta on a first contact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRequest {
    /// Everything the sender has seen.
    pub context: CausalContext,
    /// Changes for the receiver to join.
    pub delta: CartState,
}

/// The answer to a [`SyncRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncResponse {
    /// Everything the answering side has seen, after joining the request's delta.
    pub context: CausalContext,
    /// What the requester lacks: `delta_since` of the request's context.
    pub delta: CartState,
    /// How far the requester's changes have travelled.
    pub durability: Durability,
}

/// How far a replica's changes have travelled: accepted by one region, and replicated
/// to which others. A device shows it per change ("saved in us-west, replicated").
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Durability {
    /// The region that stored the changes durably.
    pub accepted_by: String,
    /// Other regions known to hold them.
    pub replicated_to: Vec<String>,
}

/// First bytes of a binary sync request.
pub const REQUEST_MAGIC: &[u8; 4] = b"CSRQ";
/// First bytes of a binary sync response.
pub const RESPONSE_MAGIC: &[u8; 4] = b"CSRS";

impl SyncRequest {
    /// The binary form: `CSRQ`, version, then the encoded context and delta.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::codec::binary::encode_pair(
            REQUEST_MAGIC,
            &self.context.to_bytes(),
            &self.delta.to_bytes(),
            None,
        )
    }

    /// Decodes and checks the binary form.
    ///
    /// # Errors
    /// [`DecodeError`](crate::DecodeError) naming what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::DecodeError> {
        let (context, delta, _) = crate::codec::binary::decode_pair(bytes, REQUEST_MAGIC, "CSRQ")?;
        Ok(Self { context, delta })
    }

    /// The JSON form: `{"context": {...}, "delta": {...}}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        crate::codec::json::encode_pair(&self.context, &self.delta, None)
    }

    /// Decodes and checks the JSON form.
    ///
    /// # Errors
    /// [`DecodeError`](crate::DecodeError) naming what is wrong.
    pub fn from_json(text: &str) -> Result<Self, crate::DecodeError> {
        let (context, delta, _) = crate::codec::json::decode_pair(text)?;
        Ok(Self { context, delta })
    }
}

impl SyncResponse {
    /// The binary form: `CSRS`, version, context, delta and durability.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::codec::binary::encode_pair(
            RESPONSE_MAGIC,
            &self.context.to_bytes(),
            &self.delta.to_bytes(),
            Some(&self.durability),
        )
    }

    /// Decodes and checks the binary form.
    ///
    /// # Errors
    /// [`DecodeError`](crate::DecodeError) naming what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::DecodeError> {
        let (context, delta, durability) = crate::codec::binary::decode_pair(bytes, RESPONSE_MAGIC, "CSRS")?;
        Ok(Self { context, delta, durability: durability.unwrap_or_default() })
    }

    /// The JSON form: `{"context": {...}, "delta": {...}, "durability": {...}}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        crate::codec::json::encode_pair(&self.context, &self.delta, Some(&self.durability))
    }

    /// Decodes and checks the JSON form.
    ///
    /// # Errors
    /// [`DecodeError`](crate::DecodeError) naming what is wrong.
    pub fn from_json(text: &str) -> Result<Self, crate::DecodeError> {
        let (context, delta, durability) = crate::codec::json::decode_pair(text)?;
        Ok(Self { context, delta, durability: durability.unwrap_or_default() })
    }
}
