//! `POST /api/v1/demo/token` (only with `--demo-tokens`): a token for any user and
//! device, for anyone who asks. It stands in for a storefront's login so the web demo
//! can get a device token for the replica id its browser drew. Never on in production.

use axum::Json;
use axum::extract::State;
use cart_core::ReplicaId;
use serde::{Deserialize, Serialize};

use super::{Body, parse_json};
use crate::auth::{cart_of, check_user_id};
use crate::error::AppError;
use crate::state::AppState;

/// How long a demo token is valid: a day of clicking around.
pub const DEMO_TOKEN_TTL: u64 = 24 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user_id: String,
    /// The device's replica id; without it the token is for REST calls only.
    #[serde(default)]
    device: Option<String>,
}

/// What the demo page needs to sync.
#[derive(Serialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub token: String,
    /// The user's cart, for `/api/v1/carts/{cart_id}/...`.
    pub cart_id: String,
    /// The region that issued it.
    pub region: String,
}

/// Issues a token, valid for [`DEMO_TOKEN_TTL`] seconds.
pub async fn issue_token(
    State(app): State<AppState>,
    Body(body): Body,
) -> Result<Json<TokenResponse>, AppError> {
    let request: TokenRequest = parse_json(&body)?;
    check_user_id(&request.user_id)?;
    let device = request.device.as_deref().map(device_id).transpose()?;
    let token = app.auth.issue(&request.user_id, device, DEMO_TOKEN_TTL)?;
    metrics::counter!("cart_demo_tokens_total").increment(1);
    Ok(Json(TokenResponse { token, cart_id: cart_of(&request.user_id), region: app.region.name.clone() }))
}

/// A replica id in the one spelling the JSON form accepts: a lowercase, hyphenated UUID.
fn device_id(text: &str) -> Result<ReplicaId, AppError> {
    let id: ReplicaId =
        text.parse().map_err(|e: cart_core::ReplicaIdError| AppError::invalid("device", e.to_string()))?;
    if id.to_string() == text {
        Ok(id)
    } else {
        Err(AppError::invalid("device", format!("must be a lowercase, hyphenated UUID, such as {id}")))
    }
}
