//! The router: every route, with body limits, timeouts and request tracing.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::routes::{checkout, events, ops, rest, sync};
use crate::state::AppState;

/// The largest request body accepted: a sync of a 6,000-line cart fits with room.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The whole HTTP API of one region.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/cart", get(rest::get_cart))
        .route("/api/v1/cart/items", post(rest::add_item).put(rest::set_item).delete(rest::remove_item))
        .route("/api/v1/cart/merge", post(rest::merge_guest))
        .route("/api/v1/cart/checkout", post(checkout::checkout))
        .route("/api/v1/orders/{order_id}", get(checkout::get_order))
        .route("/api/v1/carts/{cart_id}/sync", post(sync::device_sync))
        .route("/internal/v1/carts/{cart_id}/sync", post(sync::peer_sync))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(10),
        ));
    Router::new()
        .merge(api)
        // Event streams stay open, so they sit outside the timeout.
        .route("/api/v1/carts/{cart_id}/events", get(events::cart_events))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
