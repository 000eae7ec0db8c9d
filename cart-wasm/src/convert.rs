//! What crosses the boundary, and how.
//!
//! Out: plain objects and arrays built by serde-wasm-bindgen's JSON-compatible
//! serializer, so `JSON.stringify` shows exactly what a program sees (a `Map` would
//! print as `{}`). Counters, which may exceed 2^53, are decimal strings; prices and
//! totals are exact decimal strings.
//!
//! In: quantities must be integral JS numbers; attributes a plain object with known
//! keys only, each checked here or by cart-core, with errors that name the field.

use std::collections::BTreeMap;

use cart_core::{AttrPatch, CartState, LineView};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::js_error;

/// Any serializable value as a plain JS value.
///
/// # Errors
/// Only if serde-wasm-bindgen cannot represent it (it always can for our types).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("internal", None, &e.to_string()))
}

/// One cart line as a storefront renders it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line<'a> {
    item_id: &'a str,
    quantity: u32,
    unit_price: Option<String>,
    line_total: Option<String>,
    name: Option<&'a str>,
    image_url: Option<&'a str>,
    attributes: &'a BTreeMap<String, String>,
}

impl<'a> From<LineView<'a>> for Line<'a> {
    fn from(line: LineView<'a>) -> Self {
        Self {
            item_id: line.item.as_str(),
            quantity: line.quantity,
            unit_price: line.attrs.unit_price.map(|p| p.to_string()),
            line_total: line.line_total().map(|t| t.to_string()),
            name: line.attrs.name.as_deref(),
            image_url: line.attrs.image_url.as_deref(),
            attributes: &line.attrs.extra,
        }
    }
}

/// Every line of a state, in item-id order.
#[must_use]
pub fn lines(state: &CartState) -> Vec<Line<'_>> {
    state.lines().map(Line::from).collect()
}

/// A causal context as `{replicaId: "1-4,7"}`: counters stay exact as text.
///
/// # Errors
/// Never in practice.
pub fn context(state: &CartState) -> Result<JsValue, JsValue> {
    to_js(&cart_core::codec::json::context_map(state.context()))
}

/// Reads a context given as `{replicaId: "1-4,7"}` (as a region's change event carries it).
///
/// # Errors
/// `invalid_input` naming `context`.
pub fn context_from_js(value: JsValue) -> Result<cart_core::CausalContext, JsValue> {
    let refuse = |why: String| js_error("invalid_input", Some("context"), &format!("context: {why}"));
    let map: BTreeMap<String, String> =
        serde_wasm_bindgen::from_value(value).map_err(|e| refuse(e.to_string()))?;
    cart_core::codec::json::parse_context_map(&map).map_err(|e| refuse(e.to_string()))
}

/// The keys of the attributes argument.
const ATTR_KEYS: [&str; 4] = ["unitPrice", "name", "imageUrl", "attributes"];

/// The attributes an `add` or `set` may carry, as a storefront passes them.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AttrsInput {
    unit_price: Option<String>,
    name: Option<String>,
    image_url: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

/// Reads the optional attributes argument (`undefined`/`null` for none).
///
/// # Errors
/// `invalid_input` naming the attribute that is not of the expected shape; a price must
/// be decimal text such as `"29.99"` (a JS number may already have been rounded).
pub fn attr_patch(value: &JsValue) -> Result<AttrPatch, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(AttrPatch::new());
    }
    if !value.is_object() || js_sys::Array::is_array(value) {
        return Err(js_error(
            "invalid_input",
            Some("attrs"),
            "attrs must be a plain object such as {unitPrice: \"29.99\"}",
        ));
    }
    // serde-wasm-bindgen reads only the fields it knows; a misspelt one must not pass unnoticed.
    for key in js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !ATTR_KEYS.contains(&key.as_str()) {
            return Err(js_error(
                "invalid_input",
                Some("attrs"),
                &format!("attrs.{key} is not an attribute; use {}", ATTR_KEYS.join(", ")),
            ));
        }
    }
    if let Ok(price) = js_sys::Reflect::get(value, &"unitPrice".into()) {
        if !price.is_undefined() && !price.is_null() && price.as_string().is_none() {
            return Err(js_error(
                "invalid_input",
                Some("unit_price"),
                "unitPrice must be a string of exact decimal text such as \"29.99\", not a number",
            ));
        }
    }
    let input: AttrsInput = serde_wasm_bindgen::from_value(value.clone())
        .map_err(|e| js_error("invalid_input", Some("attrs"), &format!("attrs: {e}")))?;
    let mut patch = AttrPatch::new();
    patch.unit_price = input.unit_price;
    patch.name = input.name;
    patch.image_url = input.image_url;
    patch.extra = input.attributes.unwrap_or_default();
    Ok(patch)
}

/// Reads a quantity: an integral JS number (no strings, no fractions, no NaN).
///
/// # Errors
/// `invalid_input` with field `qty`.
pub fn quantity(value: &JsValue) -> Result<i64, JsValue> {
    const SAFE: f64 = 9_007_199_254_740_991.0; // Number.MAX_SAFE_INTEGER
    match value.as_f64() {
        Some(q) if q.fract() == 0.0 && q.abs() <= SAFE => {
            #[allow(clippy::cast_possible_truncation)] // integral and within ±2^53
            Ok(q as i64)
        }
        _ => Err(js_error("invalid_input", Some("qty"), "qty must be a whole number such as 2")),
    }
}
