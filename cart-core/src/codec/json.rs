//! The readable JSON form, for people, logs and debugging.
//!
//! ```json
//! {"format": "cart-state", "version": 1,
//!  "context": {"6f1c...": "1-4,7"},
//!  "item_limit": [],
//!  "items": {"itm_shirt": {
//!     "quantity": [{"dot": "3@6f1c...", "add": 2}],
//!     "attributes": [{"dot": "3@6f1c...", "unit_price": "29.99"}]}}}
//! ```
//!
//! A context maps each replica to its counter ranges; a dot is `counter@replica`.
//! Counters are written inside strings so that JavaScript, whose numbers lose
//! precision above 2^53, reads them exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DecodeError, InvalidState, RawItem, assemble};
use crate::context::{CausalContext, ContextError};
use crate::dot::{Dot, ReplicaId};
use crate::input::{ItemAttrs, parse_price};
use crate::state::{CartState, QtyWrite};

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
    quantity: Vec<JsonQty>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attributes: Vec<JsonAttrs>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonQty {
    dot: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    set: Option<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonAttrs {
    dot: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit_price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
}

/// Encodes a state in the readable JSON form (compact, deterministic).
#[must_use]
pub fn encode_state(state: &CartState) -> String {
    let json = JsonState {
        format: FORMAT.to_owned(),
        version: VERSION,
        context: context_map(&state.context),
        item_limit: state
            .limit
            .iter()
            .map(|(d, l)| JsonLimit {
                dot: d.to_string(),
                limit: *l,
            })
            .collect(),
        items: state
            .items
            .iter()
            .map(|(id, item)| {
                let quantity = item
                    .qty
                    .iter()
                    .map(|(d, w)| {
                        let (add, set) = match *w {
                            QtyWrite::Add(n) => (Some(n), None),
                            QtyWrite::Set(n) => (None, Some(n)),
                        };
                        JsonQty {
                            dot: d.to_string(),
                            add,
                            set,
                        }
                    })
                    .collect();
                let attributes = item
                    .attrs
                    .iter()
                    .map(|(d, a)| JsonAttrs {
                        dot: d.to_string(),
                        unit_price: a.unit_price.map(|p| p.to_string()),
                        name: a.name.clone(),
                        image_url: a.image_url.clone(),
                        attributes: a.extra.clone(),
                    })
                    .collect();
                (
                    id.to_string(),
                    JsonItem {
                        quantity,
                        attributes,
                    },
                )
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
    let json: JsonState =
        serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if json.format != FORMAT {
        return Err(DecodeError::BadMagic { expected: FORMAT });
    }
    if json.version != VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: json.version,
            supported: VERSION,
        });
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
        let mut qty = Vec::with_capacity(item.quantity.len());
        for q in &item.quantity {
            let write = match (q.add, q.set) {
                (Some(n), None) => QtyWrite::Add(n),
                (None, Some(n)) => QtyWrite::Set(n),
                _ => {
                    return Err(DecodeError::Malformed(format!(
                        "item {id}: a quantity write needs exactly one of add or set"
                    )));
                }
            };
            qty.push((parse_dot(&q.dot)?, write));
        }
        qty.sort_unstable();
        let mut attrs = Vec::with_capacity(item.attributes.len());
        for a in item.attributes {
            let unit_price = a
                .unit_price
                .as_deref()
                .map(parse_price)
                .transpose()
                .map_err(InvalidState::from)?;
            let record = ItemAttrs {
                unit_price,
                name: a.name,
                image_url: a.image_url,
                extra: a.attributes,
            };
            attrs.push((parse_dot(&a.dot)?, record));
        }
        attrs.sort_unstable_by_key(|(dot, _)| *dot);
        items.push(RawItem { id, qty, attrs });
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

fn context_map(context: &CausalContext) -> BTreeMap<String, String> {
    context
        .iter()
        .map(|(r, ranges)| {
            let text: Vec<String> = ranges
                .iter()
                .map(|&(s, e)| {
                    if s == e {
                        s.to_string()
                    } else {
                        format!("{s}-{e}")
                    }
                })
                .collect();
            (r.to_string(), text.join(","))
        })
        .collect()
}

fn parse_context_map(map: &BTreeMap<String, String>) -> Result<CausalContext, DecodeError> {
    let mut context = CausalContext::new();
    for (replica, text) in map {
        let replica = parse_replica(replica)?;
        let mut ranges = Vec::new();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (s, e) = part.split_once('-').unwrap_or((part, part));
            ranges.push((parse_counter(s)?, parse_counter(e)?));
        }
        context
            .set_ranges(replica, ranges)
            .map_err(|e: ContextError| InvalidState::from(e))?;
    }
    Ok(context)
}

fn parse_replica(text: &str) -> Result<ReplicaId, DecodeError> {
    text.parse()
        .map_err(|e: crate::dot::ReplicaIdError| DecodeError::Malformed(e.to_string()))
}

fn parse_counter(text: &str) -> Result<u64, DecodeError> {
    text.parse()
        .map_err(|_| DecodeError::Malformed(format!("counter {text:?} is not a whole number")))
}

fn parse_dot(text: &str) -> Result<Dot, DecodeError> {
    let (counter, replica) = text.split_once('@').ok_or_else(|| {
        DecodeError::Malformed(format!("dot {text:?} is not of the form counter@replica"))
    })?;
    Ok(Dot::new(parse_replica(replica)?, parse_counter(counter)?))
}
