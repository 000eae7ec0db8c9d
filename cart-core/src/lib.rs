//! # cart-core: the shopping cart that every device and region can edit offline
//!
//! A cart is a CRDT: an observed-remove map from item ids to quantities and
//! attributes, built from [dots](Dot) and a [causal context](CausalContext). Every
//! replica (a phone, a laptop, a region's server) accepts changes on its own; any two
//! replicas that have received the same changes, in any order and any number of
//! times, hold the same cart, byte for byte. The rules are those of
//! `shared/spec/cart-semantics.md`:
//!
//! - concurrent adds of an item accumulate;
//! - an add or set wins over a concurrent remove (a remove takes only what it saw);
//! - concurrent sets: the larger wins, and adds the set did not see come on top;
//! - attributes (price, name, image) follow causal order; concurrent writes are
//!   decided by replica id, never by a clock;
//! - quantities show capped at the per-item limit (999 unless set otherwise);
//! - prices are exact decimals.
//!
//! ## Two devices converge
//!
//! ```
//! use cart_core::{AttrPatch, Replica};
//!
//! let mut phone = Replica::new();
//! let mut laptop = Replica::new();
//!
//! // Offline, both add the same shirt.
//! let from_phone = phone.add("itm_shirt", 2, &AttrPatch::new().unit_price("29.99")).unwrap();
//! let from_laptop = laptop.add("itm_shirt", 1, &AttrPatch::new()).unwrap();
//!
//! // Back online: the deltas cross, in whatever order the network delivers them.
//! laptop.join(&from_phone);
//! phone.join(&from_laptop);
//!
//! assert_eq!(phone.state().quantity("itm_shirt"), 3);
//! assert_eq!(phone.state().to_bytes(), laptop.state().to_bytes());
//! assert_eq!(phone.state().total().to_string(), "89.97");
//! ```
//!
//! ## Moving deltas around is the caller's job
//!
//! This crate does no I/O and has no async code. A caller:
//!
//! - sends the delta each operation returns ([`CartState::to_bytes`]) to whoever
//!   should see it, as soon as it can, without caring for order or duplicates;
//! - repairs whatever was lost with anti-entropy: send [`Replica::context`], receive
//!   [`CartState::delta_since`] of it, [`Replica::join`] the answer (see [`sync`]);
//! - persists [`Replica::to_bytes`] (state, id and next counter) before telling the
//!   shopper a change is saved.
//!
//! Input from elsewhere is decoded with [`CartState::from_bytes`], which checks
//! everything; a decoded state is valid, so joining it cannot fail.

pub mod codec;
mod context;
mod dot;
mod input;
mod replica;
pub mod scenario;
mod state;
pub mod sync;

pub use codec::{DecodeError, InvalidState};
pub use context::{CausalContext, ContextError, CounterRange};
pub use dot::{Dot, ReplicaId, ReplicaIdError};
pub use input::{
    AttrPatch, DEFAULT_ITEM_LIMIT, InputError, ItemAttrs, ItemId, MAX_ATTRIBUTE_KEY_BYTES,
    MAX_ATTRIBUTE_VALUE_BYTES, MAX_EXTRA_ATTRIBUTES, MAX_IMAGE_URL_BYTES, MAX_ITEM_ID_BYTES, MAX_ITEM_LIMIT,
    MAX_NAME_BYTES, MAX_PRICE_INTEGER_DIGITS, MAX_PRICE_SCALE, parse_price,
};
pub use replica::{OpError, Replica};
pub use state::{CartState, ItemState, LineView, QtyWrite};
pub use sync::{Durability, SyncRequest, SyncResponse};

impl CartState {
    /// The canonical binary encoding: equal states give equal bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::binary::encode_state(self)
    }

    /// Decodes and checks a binary state or delta.
    ///
    /// # Errors
    /// [`DecodeError`] naming what is wrong; nothing is changed anywhere.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::binary::decode_state(bytes)
    }

    /// The readable JSON encoding.
    #[must_use]
    pub fn to_json(&self) -> String {
        codec::json::encode_state(self)
    }

    /// Decodes and checks a state or delta in the readable JSON form.
    ///
    /// # Errors
    /// [`DecodeError`] naming what is wrong.
    pub fn from_json(text: &str) -> Result<Self, DecodeError> {
        codec::json::decode_state(text)
    }
}

impl CausalContext {
    /// The binary encoding of a context, as a sync request carries it.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::binary::encode_context(self)
    }

    /// Decodes and checks a binary context.
    ///
    /// # Errors
    /// [`DecodeError`] naming what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::binary::decode_context(bytes)
    }
}

impl Replica {
    /// What a replica persists: id, next counter and state, in one blob.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::binary::encode_replica(self.id(), self.next_counter(), self.state())
    }

    /// Brings a replica back from [`Replica::to_bytes`].
    ///
    /// # Errors
    /// [`DecodeError`] naming what is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (id, next, state) = codec::binary::decode_replica(bytes)?;
        Ok(Self::restore(id, next, state))
    }
}

#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
