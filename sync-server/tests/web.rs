//! The web demo's needs, through the router without a socket: static files beside the
//! API, CORS for a page served by the other region, and demo tokens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use cart_core::{AttrPatch, Replica, SyncRequest};
use common::{TestApp, code, field};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sync_server::app::{Options, app_with, parse_origin};
use tower::ServiceExt;

const PEER_PAGE: &str = "http://127.0.0.1:8081";

async fn send(router: Router, request: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = router.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

async fn get(router: Router, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

fn content_type(headers: &HeaderMap) -> &str {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn the_web_root_is_served_beside_the_api() {
    let app = TestApp::new();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<h1>demo</h1>").unwrap();
    std::fs::write(site.path().join("app.js"), "export {};").unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/cart_wasm_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    // A file where an API path would be must never shadow the API.
    std::fs::create_dir(site.path().join("api")).unwrap();
    std::fs::write(site.path().join("api/secret.txt"), "no").unwrap();
    let router = app_with(
        app.state.clone(),
        &Options { web_root: Some(site.path().to_owned()), ..Options::default() },
    );

    let (status, headers, body) = get(router.clone(), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type(&headers).starts_with("text/html"), "{headers:?}");
    assert_eq!(body, b"<h1>demo</h1>");
    let (status, headers, _) = get(router.clone(), "/app.js").await;
    assert_eq!((status, content_type(&headers)), (StatusCode::OK, "text/javascript"));
    let (status, headers, body) = get(router.clone(), "/pkg/cart_wasm_bg.wasm").await;
    assert_eq!((status, content_type(&headers)), (StatusCode::OK, "application/wasm"));
    assert_eq!(body, b"\0asm\x01\0\0\0");
    let (status, _, _) = get(router.clone(), "/missing.html").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The API keeps priority, and its unknown paths answer the API's JSON 404.
    let (status, _, body) = get(router.clone(), "/healthz").await;
    assert_eq!((status, json_of(&body)["region"].as_str()), (StatusCode::OK, Some("us-west")));
    for (method, uri) in [
        (Method::GET, "/api/v1/nope"),
        (Method::POST, "/api/v2/carts/x/sync"),
        (Method::GET, "/api/secret.txt"),
        (Method::GET, "/internal/v1/nope"),
    ] {
        let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
        let (status, headers, body) = send(router.clone(), request).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(content_type(&headers), "application/json", "{uri}");
        assert_eq!(code(&json_of(&body)), "not_found", "{uri}");
    }
}

#[tokio::test]
async fn without_a_web_root_every_unknown_path_is_the_json_404() {
    let app = TestApp::new();
    for uri in ["/", "/index.html", "/api/v1/nope"] {
        let (status, _, body) = get(app.router(), uri).await;
        assert_eq!((status, code(&json_of(&body))), (StatusCode::NOT_FOUND, "not_found"), "{uri}");
    }
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/carts/cart-usr_12345/sync")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_preflights_answer_allowed_origins_only_and_need_no_token() {
    let app = TestApp::new();
    let options = Options { allow_origins: vec![parse_origin(PEER_PAGE).unwrap()], ..Options::default() };
    let router = app_with(app.state.clone(), &options);

    let (status, headers, _) = send(router.clone(), preflight(PEER_PAGE)).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], PEER_PAGE);
    let methods = headers[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap();
    for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers[header::ACCESS_CONTROL_ALLOW_HEADERS].to_str().unwrap();
    for name in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none(), "bearer tokens, not cookies");

    let (_, headers, _) = send(router.clone(), preflight("http://evil.example")).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{headers:?}");

    // Without --allow-origin there are no CORS headers at all.
    let (_, headers, _) = send(app.router(), preflight(PEER_PAGE)).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{headers:?}");

    // Real answers carry the headers too, errors included, with Retry-After readable.
    let request = Request::get("/api/v1/cart").header(header::ORIGIN, PEER_PAGE).body(Body::empty()).unwrap();
    let (status, headers, _) = send(router.clone(), request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], PEER_PAGE);
    assert_eq!(headers[header::ACCESS_CONTROL_EXPOSE_HEADERS], "retry-after");
}

#[tokio::test]
async fn the_event_stream_works_cross_origin() {
    let app = TestApp::new();
    let options = Options { allow_origins: vec![parse_origin(PEER_PAGE).unwrap()], ..Options::default() };
    let token = app.token("usr_12345");
    let request = Request::get(format!("/api/v1/carts/cart-usr_12345/events?access_token={token}"))
        .header(header::ORIGIN, PEER_PAGE)
        .body(Body::empty())
        .unwrap();
    let response = app_with(app.state.clone(), &options).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(content_type(response.headers()), "text/event-stream");
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], PEER_PAGE);
    let first = response.into_body().frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));
}

async fn ask_token(router: Router, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/api/v1/demo/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, body) = send(router, request).await;
    (status, json_of(&body))
}

#[tokio::test]
async fn demo_tokens_are_off_unless_asked_for() {
    let app = TestApp::new();
    let (status, body) = ask_token(app.router(), json!({"user_id": "usr_12345"})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn a_demo_token_syncs_the_device_the_browser_drew() {
    let app = TestApp::new();
    let router = app_with(app.state.clone(), &Options { demo_tokens: true, ..Options::default() });
    let mut phone = Replica::new();
    let (status, body) =
        ask_token(router.clone(), json!({"user_id": "usr_12345", "device": phone.id().to_string()})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["cart_id"].as_str(), body["region"].as_str()),
        (Some("cart-usr_12345"), Some("us-west"))
    );
    let token = body["token"].as_str().unwrap();
    let claims = app.state.auth.verify(token).unwrap();
    assert_eq!(claims.dev, Some(phone.id().to_string()));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!((now + 24 * 3600 - 5..=now + 24 * 3600 + 5).contains(&claims.exp), "valid for a day");

    phone.add("itm_shirt", 2, &AttrPatch::new().unit_price("29.99")).unwrap();
    let request = SyncRequest { context: phone.context().clone(), delta: phone.state().clone() };
    let response = app.sync_json("cart-usr_12345", token, &request).await;
    assert_eq!(response.durability.accepted_by, "us-west");
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(token), None).await;
    assert_eq!(cart["items"][0]["quantity"], 2);

    // Without a device it is a user token, for REST calls.
    let (status, body) = ask_token(router, json!({"user_id": "usr_12345"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.state.auth.verify(body["token"].as_str().unwrap()).unwrap().dev, None);
}

#[tokio::test]
async fn demo_token_requests_with_bad_fields_are_refused_by_name() {
    let app = TestApp::new();
    let router = app_with(app.state.clone(), &Options { demo_tokens: true, ..Options::default() });
    let device = Replica::new().id().to_string();
    for (body, expected) in [
        (json!({}), "user_id"),
        (json!({"user_id": ""}), "user_id"),
        (json!({"user_id": "usr 1/2"}), "user_id"),
        (json!({"user_id": 12345}), "user_id"),
        (json!({"user_id": "usr_12345", "device": "phone"}), "device"),
        (json!({"user_id": "usr_12345", "device": device.to_uppercase()}), "device"),
        (json!({"user_id": "usr_12345", "device": device.replace('-', "")}), "device"),
    ] {
        let (status, error) = ask_token(router.clone(), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!((code(&error), field(&error)), ("invalid_input", expected), "{body}: {error}");
    }
}
