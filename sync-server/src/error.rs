//! One error type for every route, with a stable JSON body:
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.
//! Internal errors are logged once and never leak their details.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong, as the client sees it.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_input`.
    pub code: &'static str,
    /// What to do about it, in words.
    pub message: String,
    /// The request field that was wrong, when one was.
    pub field: Option<String>,
    /// Seconds after which a retry may succeed (503s).
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl AppError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, retry_after: None }
    }

    /// 400: the request is malformed or a value is invalid; `field` names it.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: Some(field.into()), ..Self::new(StatusCode::BAD_REQUEST, "invalid_input", message) }
    }

    /// 400: the body could not be read at all.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_body", message)
    }

    /// 401: no valid bearer token.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: the caller may not touch this cart or make these changes.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409: the request refers to changes this region has not seen.
    pub fn unknown_changes(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "unknown_changes", message)
    }

    /// 409 with a code of the caller's choice.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 415: neither JSON nor the binary form.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
    }

    /// 503 with Retry-After: a dependency is down; nothing was changed.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
        }
    }

    /// 500: logged here with its cause; the client sees only that it happened.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it has been logged")
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        metrics::counter!("cart_http_errors_total", "code" => self.code).increment(1);
        let body =
            Body { error: Inner { code: self.code, message: &self.message, field: self.field.as_deref() } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<cart_core::InputError> for AppError {
    fn from(e: cart_core::InputError) -> Self {
        let field = match e.field() {
            "qty" => "quantity".to_owned(),
            "item" => "item_id".to_owned(),
            other => other.to_owned(),
        };
        Self::invalid(field, e.to_string())
    }
}

impl From<cart_core::OpError> for AppError {
    fn from(e: cart_core::OpError) -> Self {
        match e {
            cart_core::OpError::Input(e) => e.into(),
            other => Self::internal(other),
        }
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(why) => Self::unavailable(why, 1),
            other => Self::internal(other),
        }
    }
}
