//! The HTTP routes, one module per concern.

pub mod checkout;
pub mod demo;
pub mod events;
pub mod ops;
pub mod rest;
pub mod sync;

use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Any path the API does not know: the API's JSON 404.
pub async fn no_route(uri: axum::http::Uri) -> AppError {
    AppError::not_found(format!("no route for {}", uri.path()))
}

/// Parses a JSON body, naming the exact field that is wrong.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let data_error = inner.classify() == serde_json::error::Category::Data;
        let message = inner.to_string();
        if let Some(missing) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            return AppError::invalid(missing, format!("{missing} is required"));
        }
        if !data_error || path == "." || path == "?" || path.is_empty() {
            AppError::malformed(format!("the body is not valid JSON for this request: {inner}"))
        } else {
            AppError::invalid(path, inner.to_string())
        }
    })?;
    de.end().map_err(|e| AppError::malformed(format!("unexpected data after the JSON body: {e}")))?;
    Ok(value)
}

/// A request body whose rejections (too large, broken stream) are JSON errors too.
pub struct Body(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state).await.map(Body).map_err(|e| {
            let status = e.status();
            let code = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                "body_too_large"
            } else {
                "malformed_body"
            };
            AppError { status, code, message: e.body_text(), field: None, retry_after: None }
        })
    }
}
