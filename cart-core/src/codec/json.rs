//! The readable JSON form, for people, logs and debugging.
//!
//! ```json
//! {"format": "cart-state", "version": 1,
//!  "context": {"6f1c...": "1-4,7"},
//!  "item_limit": [],
//!  "items": {"itm_shirt": {"writes": [
//!     {"dot": "3@6f1c...", "add": 2, "version": "1", "attributes": {"unit_price": "29.99"}}]}}}
//! ```
//!
//! A context maps each replica to its counter ranges; a dot is `counter@replica`.
//! Counters and versions are written inside strings so that JavaScript, whose numbers
//! lose precision above 2^53, reads them exactly. Replica ids must be lowercase,
//! hyphenated UUIDs, so one replica has one spelling.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{DecodeError, InvalidState, RawItem, assemble};
use crate::context::{CausalContext, ContextError};
use crate::dot::{Dot, ReplicaId};
use crate::input::{ItemAttrs, parse_price};
use crate::state::{CartState, QtyWrite, Write};

const FORMAT: &str = "cart-state";
const VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonState {
    format: String,
    version: u8,
    context: BTreeMap<String, String>,
    #[serde(default)]
    item_limit: Vec<JsonLimit>,
    items: BTreeMap<String, JsonItem>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLimit {
    dot: String,
    limit: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonItem {
    writes: Vec<JsonWrite>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonWrite {
    dot: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set: Option<u32>,
    version: String,
    #[serde(default, skip_serializing_if = "JsonAttrs::is_empty")]
    attributes: JsonAttrs,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JsonAttrs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit_price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, String>,
}

impl JsonAttrs {
    fn is_empty(&self) -> bool {
        self.unit_price.is_none() && self.name.is_none() && self.image_url.is_none() && self.extra.is_empty()
    }
}

/// Encodes a state in the readable JSON form (compact, deterministic).
#[must_use]
pub fn encode_state(state: &CartState) -> String {
    let json = JsonState {
        format: FORMAT.to_owned(),
        version: VERSION,
        context: context_map(&state.context),
        item_limit: state.limit.iter().map(|(d, l)| JsonLimit { dot: d.to_string(), limit: *l }).collect(),
        items: state
            .items
            .iter()
            .map(|(id, item)| {
                let writes = item
                    .writes()
                    .map(|(d, w)| {
                        let (add, set) = match w.qty {
                            QtyWrite::Add(n) => (Some(n), None),
                            QtyWrite::Set(n) => (None, Some(n)),
                        };
                        let attributes = JsonAttrs {
                            unit_price: w.attrs.unit_price.map(|p| p.to_string()),
                            name: w.attrs.name.clone(),
                            image_url: w.attrs.image_url.clone(),
                            extra: w.attrs.extra.clone(),
                        };
                        JsonWrite { dot: d.to_string(), add, set, version: w.version.to_string(), attributes }
                    })
                    .collect();
                (id.to_string(), JsonItem { writes })
            })
            .collect(),
    };
    serde_json::to_string(&json).unwrap_or_default()
}

/// Decodes a state from the readable JSON form, checking everything. Lists may come in
/// any order; prices are brought to canonical form.
///
/// # Errors
/// [`DecodeError`] naming the first problem found.
pub fn decode_state(text: &str) -> Result<CartState, DecodeError> {
    let json: JsonState = serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if json.format != FORMAT {
        return Err(DecodeError::BadMagic { expected: FORMAT });
    }
    if json.version != VERSION {
        return Err(DecodeError::UnsupportedVersion { found: json.version, supported: VERSION });
    }
    let context = parse_context_map(&json.context)?;
    let mut limit = json
        .item_limit
        .iter()
        .map(|l| Ok((parse_dot(&l.dot)?, l.limit)))
        .collect::<Result<Vec<_>, DecodeError>>()?;
    limit.sort_unstable();
    let mut items = Vec::with_capacity(json.items.len());
    for (id, item) in json.items {
        let mut writes = Vec::with_capacity(item.writes.len());
        for w in item.writes {
            let qty = match (w.add, w.set) {
                (Some(n), None) => QtyWrite::Add(n),
                (None, Some(n)) => QtyWrite::Set(n),
                _ => {
                    return Err(DecodeError::Malformed(format!(
                        "item {id}: a write needs exactly one of add or set"
                    )));
                }
            };
            let a = w.attributes;
            let unit_price =
                a.unit_price.as_deref().map(parse_price).transpose().map_err(InvalidState::from)?;
            let attrs = ItemAttrs { unit_price, name: a.name, image_url: a.image_url, extra: a.extra };
            let version = parse_counter(&w.version)?;
            writes.push((parse_dot(&w.dot)?, Write { qty, version, attrs: Arc::new(attrs) }));
        }
        writes.sort_unstable_by_key(|(dot, _)| *dot);
        items.push(RawItem { id, writes });
    }
    Ok(assemble(context, limit, items)?)
}

/// Encodes a causal context as a JSON object: `{"<replica>": "1-4,7"}`.
#[must_use]
pub fn encode_context(context: &CausalContext) -> String {
    serde_json::to_string(&context_map(context)).unwrap_or_default()
}

/// Decodes a causal context from its JSON object form.
///
/// # Errors
/// [`DecodeError`] naming the first problem found.
pub fn decode_context(text: &str) -> Result<CausalContext, DecodeError> {
    let map: BTreeMap<String, String> =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    parse_context_map(&map)
}

/// A causal context as the JSON form's object, before it is text: replica id to its
/// counter ranges (`"1-4,7"`). The WebAssembly build hands it to JavaScript as it is.
#[must_use]
pub fn context_map(context: &CausalContext) -> BTreeMap<String, String> {
    context
        .iter()
        .map(|(r, ranges)| {
            let text: Vec<String> = ranges
                .iter()
                .map(|&(s, e)| if s == e { s.to_string() } else { format!("{s}-{e}") })
                .collect();
            (r.to_string(), text.join(","))
        })
        .collect()
}

/// Reads a causal context from the JSON form's object (see [`context_map`]).
///
/// # Errors
/// [`DecodeError`] naming the first problem found.
pub fn parse_context_map(map: &BTreeMap<String, String>) -> Result<CausalContext, DecodeError> {
    let mut context = CausalContext::new();
    for (replica, text) in map {
        let replica = parse_replica(replica)?;
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let (s, e) = part.split_once('-').unwrap_or((part, part));
            ranges.push((parse_counter(s)?, parse_counter(e)?));
        }
        context.set_ranges(replica, ranges).map_err(|e: ContextError| InvalidState::from(e))?;
    }
    Ok(context)
}

fn parse_replica(text: &str) -> Result<ReplicaId, DecodeError> {
    let id: ReplicaId =
        text.parse().map_err(|e: crate::dot::ReplicaIdError| DecodeError::Malformed(e.to_string()))?;
    if id.to_string() == text {
        Ok(id)
    } else {
        Err(DecodeError::Malformed(format!("replica id {text:?} must be written as {id}")))
    }
}

fn parse_counter(text: &str) -> Result<u64, DecodeError> {
    let digits = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    digits.then(|| text.parse().ok()).flatten().ok_or_else(|| {
        DecodeError::Malformed(format!("counter {text:?} is not a whole number in canonical form"))
    })
}

fn parse_dot(text: &str) -> Result<Dot, DecodeError> {
    let (counter, replica) = text
        .split_once('@')
        .ok_or_else(|| DecodeError::Malformed(format!("dot {text:?} is not of the form counter@replica")))?;
    Ok(Dot::new(parse_replica(replica)?, parse_counter(counter)?))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPair {
    context: serde_json::Value,
    delta: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    durability: Option<crate::sync::Durability>,
}

/// A sync message in JSON: `{"context": {...}, "delta": {...}}` (+ `durability` in answers).
pub(crate) fn encode_pair(
    context: &CausalContext,
    delta: &CartState,
    durability: Option<&crate::sync::Durability>,
) -> String {
    let pair = JsonPair {
        context: serde_json::from_str(&encode_context(context)).unwrap_or_default(),
        delta: serde_json::from_str(&encode_state(delta)).unwrap_or_default(),
        durability: durability.cloned(),
    };
    serde_json::to_string(&pair).unwrap_or_default()
}

pub(crate) fn decode_pair(
    text: &str,
) -> Result<(CausalContext, CartState, Option<crate::sync::Durability>), DecodeError> {
    let pair: JsonPair = serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let context = decode_context(&pair.context.to_string())?;
    let delta = decode_state(&pair.delta.to_string())?;
    Ok((context, delta, pair.durability))
}
