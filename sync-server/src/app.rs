//! The router: every route, with body limits, timeouts and request tracing; optionally
//! the web demo's files, CORS for pages of other regions, and the demo token route.

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{any, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::routes::{self, checkout, demo, events, ops, rest, sync};
use crate::state::AppState;

/// The largest request body accepted: a sync of a 6,000-line cart fits with room.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// How long a browser may reuse a CORS preflight: every sync sends a bearer token, so
/// without this each one would cost a second round trip.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// What the router serves besides the API; the default is the API alone.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Static files served at `/` (`index.html` for directories); API routes come first.
    pub web_root: Option<PathBuf>,
    /// Origins whose pages may call the API (CORS); none means no CORS headers at all.
    pub allow_origins: Vec<HeaderValue>,
    /// Serves `POST /api/v1/demo/token`, which hands a token to anyone. Demo only.
    pub demo_tokens: bool,
}

/// The whole HTTP API of one region.
pub fn app(state: AppState) -> Router {
    app_with(state, &Options::default())
}

/// The API of one region, with the extras `options` turns on.
pub fn app_with(state: AppState, options: &Options) -> Router {
    let mut api = Router::new()
        .route("/api/v1/cart", get(rest::get_cart))
        .route("/api/v1/cart/items", post(rest::add_item).put(rest::set_item).delete(rest::remove_item))
        .route("/api/v1/cart/merge", post(rest::merge_guest))
        .route("/api/v1/cart/checkout", post(checkout::checkout))
        .route("/api/v1/orders/{order_id}", get(checkout::get_order))
        .route("/api/v1/carts/{cart_id}/sync", post(sync::device_sync))
        .route("/internal/v1/carts/{cart_id}/sync", post(sync::peer_sync));
    if options.demo_tokens {
        api = api.route("/api/v1/demo/token", post(demo::issue_token));
    }
    let api = api.layer(TimeoutLayer::with_status_code(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(10),
    ));
    let router = Router::new()
        .merge(api)
        // Event streams stay open, so they sit outside the timeout.
        .route("/api/v1/carts/{cart_id}/events", get(events::cart_events))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        // The API's namespaces answer the API's JSON 404, never a file.
        .route("/api/{*rest}", any(routes::no_route))
        .route("/internal/{*rest}", any(routes::no_route));
    let router = match &options.web_root {
        Some(dir) => router.fallback_service(ServeDir::new(dir)),
        None => router.fallback(routes::no_route),
    };
    let router =
        router.layer(DefaultBodyLimit::max(MAX_BODY)).layer(TraceLayer::new_for_http()).with_state(state);
    if options.allow_origins.is_empty() { router } else { router.layer(cors(&options.allow_origins)) }
}

/// CORS for pages served by other regions. Outermost, so preflights are answered before
/// any token is asked for and every answer, errors and event streams too, carries the
/// headers. Bearer tokens, not cookies: no credentials.
fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(crate::auth::SIBLINGS_HEADER),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE)
}

/// Reads an `--allow-origin`: `scheme://host[:port]` exactly as a browser sends it in
/// `Origin`, so no path and no trailing slash (which would never match).
///
/// # Errors
/// When the text is not of that form.
pub fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| format!("origin {text:?} must start with http:// or https://"))?;
    let ok = !rest.is_empty()
        && rest.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
        && !rest.chars().any(|c| c.is_ascii_uppercase());
    if !ok {
        return Err(format!("origin {text:?} must be scheme://host[:port] in lowercase, with no path"));
    }
    HeaderValue::from_str(text).map_err(|e| format!("origin {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_read_as_browsers_send_them() {
        assert!(parse_origin("http://127.0.0.1:8081").is_ok());
        assert!(parse_origin("https://shop.example").is_ok());
        assert!(parse_origin("http://[::1]:8080").is_ok());
        for bad in ["127.0.0.1:8081", "http://", "http://a/", "http://a/path", "http://A", "*"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
