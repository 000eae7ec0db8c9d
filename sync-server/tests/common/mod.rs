//! Helpers for the server's tests: an app on a temporary embedded store, tokens, and
//! requests sent without a socket.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use cart_core::{ReplicaId, SyncRequest, SyncResponse};
use http_body_util::BodyExt;
use serde_json::Value;
use sync_server::state::AppState;
use sync_server::store::embedded::EmbeddedStore;
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-of-at-least-16-bytes";

pub struct TestApp {
    pub state: AppState,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_peers("us-west", &[])
    }

    pub fn with_peers(region: &str, peers: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let state = sync_server::build(region, store, peers, SECRET).unwrap();
        Self { state, dir }
    }

    pub fn router(&self) -> Router {
        sync_server::app::app(self.state.clone())
    }

    pub fn token(&self, user: &str) -> String {
        self.state.auth.issue(user, None, 3600).unwrap()
    }

    pub fn device_token(&self, user: &str, device: ReplicaId) -> String {
        self.state.auth.issue(user, Some(device), 3600).unwrap()
    }

    /// Sends a request; returns the status, the body as JSON (or a string), and headers.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self.router().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    /// Sends raw bytes with a content type and optional extra header.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
        header: Option<(&str, &str)>,
    ) -> (StatusCode, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri).header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = self.router().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        (status, response.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    /// A device's sync in the JSON form: asserts 200 and decodes the answer.
    pub async fn sync_json(&self, cart_id: &str, token: &str, request: &SyncRequest) -> SyncResponse {
        let uri = format!("/api/v1/carts/{cart_id}/sync");
        let (status, body) = self
            .raw(Method::POST, &uri, Some(token), "application/json", request.to_json().into_bytes(), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        SyncResponse::from_json(std::str::from_utf8(&body).unwrap()).unwrap()
    }
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// The field an error body names.
pub fn field(body: &Value) -> &str {
    body["error"]["field"].as_str().unwrap_or_default()
}
