//! The compact binary form, format version 1.
//!
//! `CART` `0x01`, then a [postcard] body (LEB128 varints, length-prefixed lists):
//!
//! ```text
//! replicas: [16-byte id]            strictly increasing; dots name replicas by index
//! context:  [(replica index, [(gap, length)])]
//!           each range as (start - previous end - 1, end - start): small numbers
//! limit:    [((replica index, counter), limit)]
//! items:    [(id, [((index, counter), Add n | Set n, version, attrs?)])]
//!           attrs omitted when equal to the previous write's
//! attrs:    (price as (mantissa, scale)?, name?, image_url?, [(key, value)])
//! ```
//!
//! Replica ids are written once, in a table. A store dot's counter is written as its
//! distance below the highest counter of its replica in the context, so the live
//! writes of a cart that has seen ten thousand changes still cost a byte or two each
//! (law L5). A dot costs two or three bytes.
//! A causal context on its own (what a sync request carries) is `CCTX` `0x01` then
//! `[(16-byte id, [(gap, length)])]`.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{DecodeError, InvalidState, RawItem, assemble, split_header};
use crate::context::{CausalContext, CounterRange};
use crate::dot::{Dot, ReplicaId};
use crate::input::ItemAttrs;
use crate::state::{CartState, QtyWrite, Write};

/// First bytes of an encoded cart state.
pub const STATE_MAGIC: &[u8; 4] = b"CART";
/// First bytes of an encoded causal context.
pub const CONTEXT_MAGIC: &[u8; 4] = b"CCTX";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

type WireDot = (u32, u64);
/// A causal context on its own: replica ids inline, ranges as (gap, length - 1).
type WireContext = Vec<([u8; 16], Vec<(u64, u64)>)>;

#[derive(Serialize, Deserialize)]
struct WireState<'a> {
    replicas: Vec<[u8; 16]>,
    context: Vec<(u32, Vec<(u64, u64)>)>,
    limit: Vec<(WireDot, u32)>,
    #[serde(borrow)]
    items: Vec<WireItem<'a>>,
}

#[derive(Serialize, Deserialize)]
struct WireItem<'a> {
    id: &'a str,
    #[serde(borrow)]
    writes: Vec<WireWrite<'a>>,
}

/// A write: its dot, quantity, attribute version, and attributes, or `None` when they
/// equal the previous write's (so repeated adds do not repeat the name and price).
type WireWrite<'a> = (WireDot, WireQty, u64, Option<WireAttrs<'a>>);

#[derive(Serialize, Deserialize)]
enum WireQty {
    Add(u32),
    Set(u32),
}

#[derive(Serialize, Deserialize)]
struct WireAttrs<'a> {
    price: Option<(u128, u32)>,
    name: Option<&'a str>,
    image_url: Option<&'a str>,
    #[serde(borrow)]
    extra: Vec<(&'a str, &'a str)>,
}

/// Encodes a state in the canonical binary form.
#[must_use]
pub fn encode_state(state: &CartState) -> Vec<u8> {
    // Every store dot lies in the context, so the context names every replica.
    let replicas: Vec<[u8; 16]> = state.context.replicas().map(|r| *r.as_bytes()).collect();
    let index = |r: &ReplicaId| -> u32 {
        let i = replicas.binary_search(r.as_bytes()).unwrap_or_default();
        u32::try_from(i).unwrap_or(u32::MAX)
    };
    let dot = |d: &Dot| (index(&d.replica), state.context.max_counter(&d.replica).saturating_sub(d.counter));
    let wire = WireState {
        context: state.context.iter().map(|(r, ranges)| (index(r), gaps(ranges))).collect(),
        limit: state.limit.iter().map(|(d, l)| (dot(d), *l)).collect(),
        items: state
            .items
            .iter()
            .map(|(id, item)| {
                let mut previous: Option<&ItemAttrs> = None;
                let writes = item
                    .writes()
                    .map(|(d, w)| {
                        let qty = match w.qty {
                            QtyWrite::Add(n) => WireQty::Add(n),
                            QtyWrite::Set(n) => WireQty::Set(n),
                        };
                        let attrs = (previous != Some(w.attrs.as_ref())).then(|| wire_attrs(&w.attrs));
                        previous = Some(&w.attrs);
                        (dot(d), qty, w.version, attrs)
                    })
                    .collect();
                WireItem { id: id.as_str(), writes }
            })
            .collect(),
        replicas: replicas.clone(),
    };
    with_header(STATE_MAGIC, &wire)
}

/// Decodes a state from the canonical binary form, checking everything.
///
/// # Errors
/// [`DecodeError`] naming the first problem found.
pub fn decode_state(bytes: &[u8]) -> Result<CartState, DecodeError> {
    let state = decode_state_body(bytes)?;
    canonical(bytes, &encode_state(&state))?;
    Ok(state)
}

/// The same bytes or an error: every state has exactly one encoding, so over-long
/// varints and other spellings of the same value are refused.
fn canonical(input: &[u8], reencoded: &[u8]) -> Result<(), DecodeError> {
    if input == reencoded { Ok(()) } else { Err(DecodeError::NotCanonical) }
}

fn decode_state_body(bytes: &[u8]) -> Result<CartState, DecodeError> {
    let body = split_header(bytes, STATE_MAGIC, FORMAT_VERSION, "CART")?;
    let wire: WireState<'_> = from_body(body)?;
    let replicas: Vec<ReplicaId> = wire.replicas.iter().map(|b| ReplicaId::from_bytes(*b)).collect();
    if replicas.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err(InvalidState::NotSorted("replica ids").into());
    }
    let replica = |i: u32| -> Result<ReplicaId, InvalidState> {
        usize::try_from(i)
            .ok()
            .and_then(|i| replicas.get(i).copied())
            .ok_or(InvalidState::UnknownReplica(u64::from(i)))
    };
    let mut context = CausalContext::new();
    let mut prev: Option<u32> = None;
    for (i, encoded) in wire.context {
        if prev.is_some_and(|p| p >= i) {
            return Err(InvalidState::NotSorted("context replicas").into());
        }
        prev = Some(i);
        context.set_ranges(replica(i)?, ungaps(&encoded)?).map_err(InvalidState::from)?;
    }
    let dot = |(i, below): WireDot| -> Result<Dot, InvalidState> {
        let replica = replica(i)?;
        let counter = context.max_counter(&replica).checked_sub(below).filter(|c| *c > 0);
        Ok(Dot::new(replica, counter.ok_or(InvalidState::Counter(below))?))
    };
    let limit = wire.limit.into_iter().map(|(d, l)| Ok((dot(d)?, l))).collect::<Result<_, InvalidState>>()?;
    let mut items = Vec::with_capacity(wire.items.len());
    for item in wire.items {
        let mut writes = Vec::with_capacity(item.writes.len());
        let mut previous: Option<Arc<ItemAttrs>> = None;
        for (d, qty, version, attrs) in item.writes {
            let qty = match qty {
                WireQty::Add(n) => QtyWrite::Add(n),
                WireQty::Set(n) => QtyWrite::Set(n),
            };
            let attrs = match attrs {
                Some(a) => Arc::new(item_attrs(a)?),
                None => previous
                    .clone()
                    .ok_or(InvalidState::NotSorted("writes (the first must carry attributes)"))?,
            };
            previous = Some(Arc::clone(&attrs));
            writes.push((dot(d)?, Write { qty, version, attrs }));
        }
        items.push(RawItem { id: item.id.to_owned(), writes });
    }
    Ok(assemble(context, limit, items)?)
}

/// Encodes a causal context on its own, as a sync request carries it.
#[must_use]
pub fn encode_context(context: &CausalContext) -> Vec<u8> {
    let wire: WireContext = context.iter().map(|(r, ranges)| (*r.as_bytes(), gaps(ranges))).collect();
    with_header(CONTEXT_MAGIC, &wire)
}

/// Decodes a causal context encoded by [`encode_context`].
///
/// # Errors
/// [`DecodeError`] naming the first problem found.
pub fn decode_context(bytes: &[u8]) -> Result<CausalContext, DecodeError> {
    let body = split_header(bytes, CONTEXT_MAGIC, FORMAT_VERSION, "CCTX")?;
    let wire: WireContext = from_body(body)?;
    let mut context = CausalContext::new();
    let mut prev: Option<ReplicaId> = None;
    for (id, encoded) in wire {
        let id = ReplicaId::from_bytes(id);
        if prev.is_some_and(|p| p >= id) {
            return Err(InvalidState::NotSorted("context replicas").into());
        }
        prev = Some(id);
        context.set_ranges(id, ungaps(&encoded)?).map_err(InvalidState::from)?;
    }
    Ok(context)
}

fn with_header<T: Serialize>(magic: &[u8; 4], body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(magic);
    out.push(FORMAT_VERSION);
    // Serializing plain lists and numbers into a Vec cannot fail.
    postcard::to_extend(body, out).unwrap_or_default()
}

fn from_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if rest.is_empty() { Ok(value) } else { Err(DecodeError::TrailingBytes(rest.len())) }
}

/// Ranges as (gap before, length - 1): small numbers, short varints.
fn gaps(ranges: &[CounterRange]) -> Vec<(u64, u64)> {
    let mut next = 1_u64;
    ranges
        .iter()
        .map(|&(start, end)| {
            let pair = (start.saturating_sub(next), end.saturating_sub(start));
            next = end.saturating_add(2);
            pair
        })
        .collect()
}

fn ungaps(encoded: &[(u64, u64)]) -> Result<Vec<CounterRange>, InvalidState> {
    let mut next = 1_u64;
    let mut out = Vec::with_capacity(encoded.len());
    for &(gap, len) in encoded {
        let start = next.checked_add(gap).ok_or(InvalidState::Counter(u64::MAX))?;
        let end = start.checked_add(len).ok_or(InvalidState::Counter(u64::MAX))?;
        if end > Dot::MAX_COUNTER {
            return Err(InvalidState::Counter(end));
        }
        out.push((start, end));
        next = end.saturating_add(2);
    }
    Ok(out)
}

fn wire_attrs(a: &ItemAttrs) -> WireAttrs<'_> {
    WireAttrs {
        price: a.unit_price.map(|p| (p.mantissa().unsigned_abs(), p.scale())),
        name: a.name.as_deref(),
        image_url: a.image_url.as_deref(),
        extra: a.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
    }
}

fn item_attrs(w: WireAttrs<'_>) -> Result<ItemAttrs, InvalidState> {
    if w.extra.windows(2).any(|p| matches!(p, [a, b] if a.0 >= b.0)) {
        return Err(InvalidState::NotSorted("attribute keys"));
    }
    let unit_price = match w.price {
        None => None,
        Some((mantissa, scale)) => {
            let bad = InvalidState::Price { mantissa, scale };
            let signed = i128::try_from(mantissa).map_err(|_| bad.clone())?;
            Some(Decimal::try_from_i128_with_scale(signed, scale).map_err(|_| bad)?)
        }
    };
    Ok(ItemAttrs {
        unit_price,
        name: w.name.map(str::to_owned),
        image_url: w.image_url.map(str::to_owned),
        extra: w.extra.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
    })
}

/// First bytes of a replica's own snapshot: its id and next counter, then its state.
pub const REPLICA_MAGIC: &[u8; 4] = b"CREP";

/// Encodes what a replica persists: its id, its next counter, and its state. Not
/// canonical across replicas (it holds private bookkeeping); use [`encode_state`] for that.
#[must_use]
pub fn encode_replica(id: ReplicaId, next_counter: u64, state: &CartState) -> Vec<u8> {
    with_header(REPLICA_MAGIC, &(id.as_bytes(), next_counter, encode_state(state)))
}

/// Decodes a replica snapshot into its id, next counter and state.
///
/// # Errors
/// [`DecodeError`] naming the first problem found.
pub fn decode_replica(bytes: &[u8]) -> Result<(ReplicaId, u64, CartState), DecodeError> {
    let body = split_header(bytes, REPLICA_MAGIC, FORMAT_VERSION, "CREP")?;
    let (id, next, state): ([u8; 16], u64, &[u8]) = from_body(body)?;
    let (id, state) = (ReplicaId::from_bytes(id), decode_state(state)?);
    canonical(bytes, &encode_replica(id, next, &state))?;
    Ok((id, next, state))
}

type WirePair<'a> = (&'a [u8], &'a [u8], Option<(&'a str, Vec<&'a str>)>);

/// A sync message: an encoded context, an encoded delta, and for answers the durability.
pub(crate) fn encode_pair(
    magic: &[u8; 4],
    context: &[u8],
    delta: &[u8],
    durability: Option<&crate::sync::Durability>,
) -> Vec<u8> {
    let durability = durability
        .map(|d| (d.accepted_by.as_str(), d.replicated_to.iter().map(String::as_str).collect::<Vec<_>>()));
    let wire: WirePair<'_> = (context, delta, durability);
    with_header(magic, &wire)
}

pub(crate) fn decode_pair(
    bytes: &[u8],
    magic: &'static [u8; 4],
    name: &'static str,
) -> Result<(CausalContext, CartState, Option<crate::sync::Durability>), DecodeError> {
    let body = split_header(bytes, magic, FORMAT_VERSION, name)?;
    let (context, delta, durability): WirePair<'_> = from_body(body)?;
    let durability = durability.map(|(by, to)| crate::sync::Durability {
        accepted_by: by.to_owned(),
        replicated_to: to.into_iter().map(str::to_owned).collect(),
    });
    canonical(bytes, &encode_pair(magic, context, delta, durability.as_ref()))?;
    Ok((decode_context(context)?, decode_state(delta)?, durability))
}
