//! Operator routes: health, readiness, Prometheus metrics, the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /healthz`: the process is up; names its region.
pub async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    Json(json!({"status": "ok", "region": app.region.name}))
}

/// `GET /readyz`: the store answers.
pub async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    match app.region.store.load("readyz-probe").await {
        Ok(_) => (StatusCode::OK, Json(json!({"status": "ready", "region": app.region.name}))),
        Err(e) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "not ready", "reason": e.to_string()})))
        }
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render())
}

/// `GET /openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
