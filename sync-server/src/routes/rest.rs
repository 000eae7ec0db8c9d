//! The lesson's REST contract, for clients that cannot run the core: every call acts
//! through this region's replica, so REST and devices share one cart and one merge.
//!
//! `POST /api/v1/cart/items` adds; its `version_vector` (what the client had seen) is
//! accepted and not needed, since an add removes nothing. `DELETE` removes what the
//! request's `version_vector` had seen: an add the caller never saw survives.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use cart_core::{AttrPatch, CartState, CausalContext, ReplicaId, parse_price};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Body, parse_json};
use crate::auth::{Caller, cart_of};
use crate::error::AppError;
use crate::state::AppState;

/// One line of the cart, in the lesson's shape.
#[derive(Serialize)]
pub struct ItemView {
    item_id: String,
    quantity: u32,
    /// A JSON number written from the exact decimal, so `29.99` stays `29.99`.
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_price: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    added_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// The cart in the lesson's shape, plus its exact total.
#[derive(Serialize)]
pub struct CartView {
    cart_id: String,
    user_id: String,
    items: Vec<ItemView>,
    /// For each replica, the counter up to which its changes are included.
    version_vector: BTreeMap<String, u64>,
    total: Box<RawValue>,
}

fn number(text: String) -> Option<Box<RawValue>> {
    RawValue::from_string(text).ok()
}

/// The shopper's view of a cart state.
#[must_use]
pub fn view(user: &str, state: &CartState) -> CartView {
    CartView {
        cart_id: cart_of(user),
        user_id: user.to_owned(),
        items: state
            .lines()
            .map(|l| ItemView {
                item_id: l.item.to_string(),
                quantity: l.quantity,
                unit_price: l.attrs.unit_price.and_then(|p| number(p.to_string())),
                added_at: l.attrs.extra.get("added_at").cloned(),
                name: l.attrs.name.clone(),
            })
            .collect(),
        version_vector: state
            .context()
            .version_vector()
            .map(|(r, n)| (r.to_string(), n))
            .filter(|(_, n)| *n > 0)
            .collect(),
        total: number(state.total().to_string()).unwrap_or_else(|| number("0".into()).unwrap_or_default()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemRequest {
    user_id: String,
    item_id: String,
    #[serde(default)]
    quantity: Option<i64>,
    #[serde(default)]
    unit_price: Option<Box<RawValue>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version_vector: Option<serde_json::Value>,
}

/// The exact text of a price given as a JSON number or string.
fn price_text(raw: Option<&RawValue>) -> Result<Option<String>, AppError> {
    let Some(raw) = raw else { return Ok(None) };
    let text = raw.get().trim();
    let text = match serde_json::from_str::<String>(text) {
        Ok(s) => s,
        Err(_) if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') => text.to_owned(),
        Err(_) => {
            return Err(AppError::invalid("unit_price", "must be a decimal number or a string holding one"));
        }
    };
    parse_price(&text)?;
    Ok(Some(text))
}

fn patch(request: &ItemRequest) -> Result<AttrPatch, AppError> {
    let mut patch = AttrPatch::new();
    patch.unit_price = price_text(request.unit_price.as_deref())?;
    patch.name.clone_from(&request.name);
    Ok(patch)
}

/// Parses an item request and checks that its `user_id` is the caller.
fn item_request(caller: &Caller, body: &[u8]) -> Result<ItemRequest, AppError> {
    let request: ItemRequest = parse_json(body)?;
    caller.is(&request.user_id)?;
    Ok(request)
}

fn quantity(request: &ItemRequest) -> Result<i64, AppError> {
    request.quantity.ok_or_else(|| AppError::invalid("quantity", "is required"))
}

/// `GET /api/v1/cart`
pub async fn get_cart(State(app): State<AppState>, caller: Caller) -> Result<Json<CartView>, AppError> {
    let state = app.region.store.load(&caller.cart()).await?;
    Ok(Json(view(&caller.user, &state)))
}

/// `POST /api/v1/cart/items`: add `quantity` of `item_id`.
pub async fn add_item(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<CartView>, AppError> {
    let request = item_request(&caller, &body)?;
    let qty = quantity(&request)?;
    let mut patch = patch(&request)?;
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let state = app
        .region
        .act(&caller.cart(), |replica| {
            // added_at is shown to the shopper and never used to decide anything.
            if replica.state().item(&request.item_id).is_none() {
                patch.extra.insert("added_at".into(), now);
            }
            replica.add(&request.item_id, qty, &patch)
        })
        .await?;
    Ok(Json(view(&caller.user, &state)))
}

/// `PUT /api/v1/cart/items`: set the quantity of `item_id` (0 removes it).
pub async fn set_item(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<CartView>, AppError> {
    let request = item_request(&caller, &body)?;
    let qty = quantity(&request)?;
    let patch = patch(&request)?;
    let state = app.region.act(&caller.cart(), |replica| replica.set(&request.item_id, qty, &patch)).await?;
    Ok(Json(view(&caller.user, &state)))
}

/// `DELETE /api/v1/cart/items`: remove what the request's `version_vector` had seen.
pub async fn remove_item(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<CartView>, AppError> {
    let request = item_request(&caller, &body)?;
    let seen = version_vector(request.version_vector.as_ref())?;
    let cart = caller.cart();
    let known = app.region.store.load(&cart).await?;
    if !known.context().includes(&seen) {
        return Err(AppError::unknown_changes(
            "version_vector claims changes this region has not seen; send the vector a response of this region returned",
        ));
    }
    let state = app.region.act(&cart, |replica| replica.remove_item_seen(&request.item_id, &seen)).await?;
    Ok(Json(view(&caller.user, &state)))
}

/// A version vector from a request: replica id to counter.
fn version_vector(value: Option<&serde_json::Value>) -> Result<CausalContext, AppError> {
    let Some(value) = value else {
        return Err(AppError::invalid(
            "version_vector",
            "is required: it says which changes the remove has seen",
        ));
    };
    let map: BTreeMap<String, u64> = serde_json::from_value(value.clone())
        .map_err(|_| AppError::invalid("version_vector", "must map replica ids to non-negative counters"))?;
    let mut entries = Vec::with_capacity(map.len());
    for (replica, counter) in map {
        let id: ReplicaId = replica.parse().map_err(|e: cart_core::ReplicaIdError| {
            AppError::invalid(format!("version_vector.{replica}"), e.to_string())
        })?;
        entries.push((id, counter));
    }
    CausalContext::from_version_vector(entries)
        .map_err(|e| AppError::invalid("version_vector", e.to_string()))
}

/// A patch that writes these attributes.
fn patch_of(attrs: &cart_core::ItemAttrs) -> AttrPatch {
    AttrPatch {
        unit_price: attrs.unit_price.map(|p| p.to_string()),
        name: attrs.name.clone(),
        image_url: attrs.image_url.clone(),
        extra: attrs.extra.clone(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeRequest {
    guest_token: String,
}

/// `POST /api/v1/cart/merge`: at login, the guest cart's lines are added to the account
/// cart in one delta (joined like every other), and leave the guest cart.
pub async fn merge_guest(
    State(app): State<AppState>,
    caller: Caller,
    Body(body): Body,
) -> Result<Json<CartView>, AppError> {
    let request: MergeRequest = parse_json(&body)?;
    let guest =
        app.auth.verify(&request.guest_token).map_err(|e| AppError::invalid("guest_token", e.message))?;
    if guest.sub == caller.user {
        return Err(AppError::invalid("guest_token", "names the account itself, not a guest"));
    }
    let guest_cart = cart_of(&guest.sub);
    let guest_state = app.region.store.load(&guest_cart).await?;
    // Dots are per cart, so the guest cart's writes cannot be joined as they are: this
    // region adds each guest line to the account cart, and joins those adds as one delta.
    let lines: Vec<(String, u32, AttrPatch)> =
        guest_state.lines().map(|l| (l.item.to_string(), l.quantity, patch_of(l.attrs))).collect();
    let state = app
        .region
        .act(&caller.cart(), |replica| {
            let mut delta = CartState::new();
            for (item, qty, patch) in &lines {
                match replica.add(item, i64::from(*qty), patch) {
                    Ok(d) => {
                        delta.join(&d);
                    }
                    // Already at the limit: the account cart shows the limit either way.
                    Err(cart_core::OpError::Input(cart_core::InputError::AtLimit { .. })) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(delta)
        })
        .await?;
    app.region.act(&guest_cart, |replica| replica.remove_seen(guest_state.context())).await?;
    Ok(Json(view(&caller.user, &state)))
}
