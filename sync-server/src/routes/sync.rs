//! Delta sync: `POST /api/v1/carts/{cart_id}/sync` for devices and
//! `POST /internal/v1/carts/{cart_id}/sync` for peer regions. Bodies are the binary
//! form (`application/octet-stream`) or, for debugging, JSON; answers use the same form.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use cart_core::{SyncRequest, SyncResponse};

use super::Body;
use crate::auth::{Caller, PeerRegion, Siblings};
use crate::error::AppError;
use crate::state::AppState;

/// The two encodings of a sync message.
#[derive(Clone, Copy)]
enum Form {
    Binary,
    Json,
}

fn form(headers: &HeaderMap) -> Result<Form, AppError> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if kind.starts_with("application/octet-stream") {
        Ok(Form::Binary)
    } else if kind.starts_with("application/json") {
        Ok(Form::Json)
    } else {
        Err(AppError::unsupported_media("send application/octet-stream (binary) or application/json"))
    }
}

fn decode(form: Form, body: &[u8]) -> Result<SyncRequest, AppError> {
    let decoded = match form {
        Form::Binary => SyncRequest::from_bytes(body),
        Form::Json => {
            let text =
                std::str::from_utf8(body).map_err(|_| AppError::malformed("the JSON body is not UTF-8"))?;
            SyncRequest::from_json(text)
        }
    };
    decoded.map_err(|e| AppError::invalid("body", format!("not a valid sync request: {e}")))
}

fn encode(form: Form, response: &SyncResponse) -> Response {
    match form {
        Form::Binary => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], response.to_bytes()).into_response()
        }
        Form::Json => ([(header::CONTENT_TYPE, "application/json")], response.to_json()).into_response(),
    }
}

/// A device syncs its cart.
pub async fn device_sync(
    State(app): State<AppState>,
    Path(cart_id): Path<String>,
    caller: Caller,
    siblings: Siblings,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, AppError> {
    caller.owns(&cart_id)?;
    let device = caller
        .device
        .ok_or_else(|| AppError::forbidden("syncing needs a device token, one that names a replica id"))?;
    let form = form(&headers)?;
    let request = decode(form, &body)?;
    metrics::counter!("cart_sync_requests_total", "from" => "device").increment(1);
    let response = app.region.device_sync(&cart_id, device, &siblings.0, request).await?;
    Ok(encode(form, &response))
}

/// A peer region syncs one cart.
pub async fn peer_sync(
    State(app): State<AppState>,
    Path(cart_id): Path<String>,
    peer: PeerRegion,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<Response, AppError> {
    let form = form(&headers)?;
    let request = decode(form, &body)?;
    metrics::counter!("cart_sync_requests_total", "from" => "region").increment(1);
    let response = app.region.peer_sync(&cart_id, &peer.name, request).await?;
    Ok(encode(form, &response))
}
