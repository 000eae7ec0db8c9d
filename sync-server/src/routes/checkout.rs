//! Checkout: `POST /api/v1/cart/checkout` with an `Idempotency-Key` header, and
//! `GET /api/v1/orders/{order_id}`.
//!
//! Checkouts of a cart are serialized at one home region (the first region name in
//! order among this region and its peers); other regions forward to it. The home reads
//! the cart after a sync round with every peer, so it sees every change any region has
//! accepted, freezes exactly what it read into an order, and removes exactly those
//! changes (`remove_seen` of the context it read). Changes it did not read stay in the
//! cart. A retried key returns the same order; a second checkout of the same contents
//! finds them gone (409 `cart_empty`). With a peer unreachable, no order is made: 503.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cart_core::{Replica, ReplicaId};

use super::Body;
use crate::auth::Caller;
use crate::error::AppError;
use crate::replication::sync_cart;
use crate::state::AppState;
use crate::store::{Order, OrderLine, StoreError};

fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            AppError::invalid(
                "Idempotency-Key",
                "the header is required: a retry with it returns the same order",
            )
        })?
        .to_str()
        .map_err(|_| AppError::invalid("Idempotency-Key", "must be printable ASCII"))?;
    if key.is_empty() || key.len() > 128 || key.chars().any(|c| c.is_ascii_control()) {
        return Err(AppError::invalid("Idempotency-Key", "must be 1 to 128 printable characters"));
    }
    Ok(key.to_owned())
}

/// The base URL of the cart's home region, or `None` when it is this one.
async fn home(app: &AppState) -> Result<Option<String>, AppError> {
    let mut best: (String, Option<String>) = (app.region.name.clone(), None);
    for peer in app.region.peers.iter() {
        let name = match peer.name() {
            Some(name) => name,
            None => {
                let health: serde_json::Value = app
                    .client
                    .get(format!("{}/healthz", peer.url))
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| AppError::unavailable(format!("peer {} is unreachable: {e}", peer.url), 2))?
                    .json()
                    .await
                    .map_err(|e| {
                        AppError::unavailable(format!("peer {} answered badly: {e}", peer.url), 2)
                    })?;
                health.get("region").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned()
            }
        };
        if name < best.0 {
            best = (name, Some(peer.url.clone()));
        }
    }
    Ok(best.1)
}

async fn forward(
    app: &AppState,
    method: reqwest::Method,
    url: String,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let mut request = app.client.request(method, url);
    for name in [header::AUTHORIZATION.as_str(), "idempotency-key"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, value);
        }
    }
    let answer = request
        .send()
        .await
        .map_err(|e| AppError::unavailable(format!("the home region is unreachable: {e}"), 2))?;
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = answer
        .bytes()
        .await
        .map_err(|e| AppError::unavailable(format!("the home region broke off: {e}"), 2))?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `POST /api/v1/cart/checkout`
pub async fn checkout(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(_body): Body,
) -> Result<Response, AppError> {
    let key = idempotency_key(&headers)?;
    if let Some(url) = home(&app).await? {
        return forward(&app, reqwest::Method::POST, format!("{url}/api/v1/cart/checkout"), &headers).await;
    }
    let region = &app.region;
    let cart_id = caller.cart();
    let _guard = region.lock(&cart_id).await;
    // A checkout raced by another region's (Cassandra: the store's lightweight
    // transaction refused ours) reads the cart again, which no longer holds what the
    // other one took.
    for attempt in 1..=CHECKOUT_ATTEMPTS {
        match checkout_once(&app, &caller, &cart_id, &key).await {
            // Back off a little, so that racing regions do not collide again at once.
            Err(AppError { code: "checkout_raced", .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(40_u64.saturating_mul(attempt as u64)))
                    .await;
            }
            outcome => return outcome,
        }
    }
    Err(AppError::unavailable("checkouts of this cart keep racing; no order was made, retry", 1))
}

/// How many times a raced checkout reads again before it gives up.
const CHECKOUT_ATTEMPTS: usize = 5;

async fn checkout_once(
    app: &AppState,
    caller: &Caller,
    cart_id: &str,
    key: &str,
) -> Result<Response, AppError> {
    let region = &app.region;
    if let Some(order) = region.store.order_for_key(cart_id, key).await? {
        return Ok((StatusCode::OK, Json(order)).into_response());
    }
    for peer in region.peers.iter() {
        sync_cart(region, peer, &app.client, &app.region_token, cart_id).await.map_err(|e| {
            AppError::unavailable(
                format!("cannot read the cart across regions ({}: {e}); no order was made", peer.url),
                2,
            )
        })?;
    }
    let state = region.store.load_for_checkout(cart_id).await?;
    if state.is_empty_cart() {
        return Err(AppError::conflict(
            "cart_empty",
            "the cart is empty: nothing to check out (an earlier checkout may have taken it)",
        ));
    }
    let order = Order {
        order_id: format!("ord_{}", uuid::Uuid::new_v4().simple()),
        cart_id: cart_id.to_owned(),
        user_id: caller.user.clone(),
        idempotency_key: key.to_owned(),
        items: state
            .lines()
            .map(|l| OrderLine {
                item_id: l.item.to_string(),
                quantity: l.quantity,
                unit_price: l.attrs.unit_price.map(|p| p.to_string()),
                line_total: l.line_total().map(|t| t.to_string()),
                name: l.attrs.name.clone(),
            })
            .collect(),
        total: state.total().to_string(),
        context: serde_json::from_str(&cart_core::codec::json::encode_context(state.context()))
            .unwrap_or_default(),
        region: region.name.clone(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let order_id = order.order_id.clone();
    // The removal is minted under a replica id of its own: a checkout whose outcome was
    // unknown may still be committed later, and its dot must never be one that this
    // process goes on to give a REST change.
    let mut replica = Replica::restore(ReplicaId::random(), 1, state.as_ref().clone());
    let removal = replica.remove_seen(state.context())?;
    let stored = match region.store.commit_checkout(cart_id, &state, removal, order).await {
        Err(StoreError::CheckoutRaced) => {
            return Err(AppError::conflict("checkout_raced", "another checkout of this cart came first"));
        }
        other => other?,
    };
    if stored.order_id != order_id {
        // The key already had an order (made elsewhere meanwhile): that one holds.
        return Ok((StatusCode::OK, Json(stored)).into_response());
    }
    // Announce and replicate the removal (joining what is already stored changes nothing).
    region.apply(cart_id, replica.state().clone(), None).await?;
    region.peers.mark_dirty(cart_id, None);
    metrics::counter!("cart_checkouts_total").increment(1);
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// `GET /api/v1/orders/{order_id}`
pub async fn get_order(
    State(app): State<AppState>,
    Path(order_id): Path<String>,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    match app.region.store.order(&order_id).await? {
        Some(order) if order.user_id == caller.user => Ok(Json(order).into_response()),
        Some(_) => Err(AppError::not_found("no such order")),
        None => match home(&app).await.ok().flatten() {
            Some(url) => {
                forward(&app, reqwest::Method::GET, format!("{url}/api/v1/orders/{order_id}"), &headers).await
            }
            None => Err(AppError::not_found("no such order")),
        },
    }
}
