//! The canonical encodings of a cart's replicated state.
//!
//! Two forms of the same value, both deterministic (equal states give equal bytes):
//!
//! - **Binary**, for storage and the wire: the magic bytes `CART`, a format-version
//!   byte, then a varint body (see [`binary`]). A few tens of bytes per live item.
//! - **JSON**, for people and debugging: see [`json`]. Counters are decimal strings
//!   so that JavaScript never rounds them.
//!
//! Decoders trust nothing: every length is bounded by the bytes that remain, every
//! counter and quantity is range-checked, every store entry must lie inside the
//! context, and the result must be in canonical form. Bad input is an error, never a
//! panic; a decoded [`CartState`] is valid, so joining it cannot fail.

pub mod binary;
pub mod json;

use crate::context::{CausalContext, ContextError};
use crate::dot::Dot;
use crate::input::{InputError, ItemId, MAX_ITEM_LIMIT};
use crate::state::{CartState, ItemState, QtyWrite, Write};

/// Why bytes or text could not be decoded into a cart state or context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input does not start with the expected magic bytes.
    #[error("not a {expected} blob: it must start with the magic bytes {expected:?}")]
    BadMagic {
        /// The magic that was expected.
        expected: &'static str,
    },
    /// The format version is one this build does not read.
    #[error("format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the input.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The body is truncated or malformed.
    #[error("malformed body: {0}")]
    Malformed(String),
    /// The bytes decode, but are not the one canonical encoding of their value.
    #[error("not the canonical encoding of its value (over-long numbers or a different spelling)")]
    NotCanonical,
    /// Bytes remain after a complete value.
    #[error("{0} unexpected bytes after the end of the value")]
    TrailingBytes(usize),
    /// The body decoded but does not describe a valid state.
    #[error("invalid state: {0}")]
    Invalid(#[from] InvalidState),
}

/// A decoded body that breaks a rule of valid, canonical states.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidState {
    /// The context is malformed.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// A list that must be strictly increasing is not.
    #[error("{0} are not in strictly increasing order")]
    NotSorted(&'static str),
    /// A replica index points past the replica table.
    #[error("replica index {0} is not in the replica table")]
    UnknownReplica(u64),
    /// A store entry's dot is not in the context: it claims an event nobody recorded.
    #[error("dot {0} is in a store but not in the context")]
    DotOutsideContext(Dot),
    /// A counter is 0 or above the maximum.
    #[error("counter {0} is out of range")]
    Counter(u64),
    /// One dot names two writes.
    #[error("dot {0} names two writes")]
    SharedDot(Dot),
    /// An item is listed with no live quantity write.
    #[error("item {0}: listed with no quantity writes")]
    EmptyItem(String),
    /// A quantity write is 0 or above the largest limit.
    #[error("item {item}: quantity write {value} is out of range (1 to {max})", max = MAX_ITEM_LIMIT)]
    Quantity {
        /// The item.
        item: String,
        /// The value.
        value: u32,
    },
    /// A per-item limit is 0 or above the largest limit.
    #[error("item limit {0} is out of range (1 to {max})", max = MAX_ITEM_LIMIT)]
    ItemLimit(u32),
    /// An item id or attribute fails the rules for input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A price has a mantissa or scale that is not a canonical decimal.
    #[error("price {mantissa}e-{scale} is not a canonical decimal")]
    Price {
        /// Its digits.
        mantissa: u128,
        /// Its decimal places.
        scale: u32,
    },
}

/// One item as a decoder read it, before checking.
pub(crate) struct RawItem {
    pub(crate) id: String,
    pub(crate) writes: Vec<(Dot, Write)>,
}

/// Checks decoded parts against every rule of a valid state and builds it.
pub(crate) fn assemble(
    context: CausalContext,
    limit: Vec<(Dot, u32)>,
    items: Vec<RawItem>,
) -> Result<CartState, InvalidState> {
    let mut state = CartState { context, ..CartState::new() };
    check_dots(&state.context, limit.iter().map(|(d, _)| d), "item limit dots")?;
    for (_, l) in &limit {
        if !(1..=MAX_ITEM_LIMIT).contains(l) {
            return Err(InvalidState::ItemLimit(*l));
        }
    }
    state.limit = limit.into_iter().collect();
    let mut prev: Option<ItemId> = None;
    for raw in items {
        let id = ItemId::new(raw.id)?;
        if prev.as_ref().is_some_and(|p| *p >= id) {
            return Err(InvalidState::NotSorted("item ids"));
        }
        prev = Some(id.clone());
        check_dots(&state.context, raw.writes.iter().map(|(d, _)| d), "write dots")?;
        if raw.writes.is_empty() {
            return Err(InvalidState::EmptyItem(id.to_string()));
        }
        let mut item = ItemState::default();
        for (dot, write) in raw.writes {
            let (QtyWrite::Add(n) | QtyWrite::Set(n)) = write.qty;
            if !(1..=MAX_ITEM_LIMIT).contains(&n) {
                return Err(InvalidState::Quantity { item: id.to_string(), value: n });
            }
            write.attrs.check()?;
            item.writes.insert(dot, write);
        }
        state.items.insert(id, item);
    }
    let dots = state.live_dots();
    if let Some([a, _]) = dots.windows(2).find(|w| matches!(w, [a, b] if a == b)) {
        return Err(InvalidState::SharedDot(*a));
    }
    Ok(state)
}

/// Store dots must be strictly increasing, with valid counters, inside the context.
fn check_dots<'a>(
    context: &CausalContext,
    dots: impl Iterator<Item = &'a Dot>,
    what: &'static str,
) -> Result<(), InvalidState> {
    let mut prev: Option<&Dot> = None;
    for dot in dots {
        if dot.counter == 0 || dot.counter > Dot::MAX_COUNTER {
            return Err(InvalidState::Counter(dot.counter));
        }
        if prev.is_some_and(|p| p >= dot) {
            return Err(InvalidState::NotSorted(what));
        }
        if !context.contains(dot) {
            return Err(InvalidState::DotOutsideContext(*dot));
        }
        prev = Some(dot);
    }
    Ok(())
}

/// Splits `magic + version + body`, checking the first two.
pub(crate) fn split_header<'a>(
    bytes: &'a [u8],
    magic: &'static [u8; 4],
    version: u8,
    name: &'static str,
) -> Result<&'a [u8], DecodeError> {
    let Some((head, body)) = bytes.split_first_chunk::<5>() else {
        return Err(if bytes.len() < 4 || bytes.starts_with(magic) {
            DecodeError::Malformed(format!("{} bytes is too short for a header", bytes.len()))
        } else {
            DecodeError::BadMagic { expected: name }
        });
    };
    if !head.starts_with(magic) {
        return Err(DecodeError::BadMagic { expected: name });
    }
    if head[4] != version {
        return Err(DecodeError::UnsupportedVersion { found: head[4], supported: version });
    }
    Ok(body)
}
