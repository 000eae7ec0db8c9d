//! Every route and every error class, through the router without a socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use axum::http::{Method, StatusCode};
use cart_core::{AttrPatch, CartState, Replica, ReplicaId, SyncRequest, SyncResponse};
use common::{TestApp, code, field};
use serde_json::json;

const USER: &str = "usr_12345";

/// The lesson's two examples, in their exact request shapes.
#[tokio::test]
async fn lesson_post_then_delete_with_the_returned_version_vector() {
    let app = TestApp::new();
    let token = app.token(USER);
    let post = json!({
        "user_id": "usr_12345",
        "item_id": "itm_shirt123",
        "quantity": 2,
        "unit_price": 29.99,
        "version_vector": {"us-west": 5, "eu-central": 3}
    });
    let (status, cart) = app.call(Method::POST, "/api/v1/cart/items", Some(&token), Some(post)).await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    assert_eq!(cart["cart_id"], "cart-usr_12345");
    assert_eq!(cart["user_id"], USER);
    let item = &cart["items"][0];
    assert_eq!(item["item_id"], "itm_shirt123");
    assert_eq!(item["quantity"], 2);
    assert_eq!(item["unit_price"].to_string(), "29.99", "the price is exact");
    assert!(item["added_at"].as_str().unwrap().ends_with('Z'));
    let vv = cart["version_vector"].clone();
    assert_eq!(vv.as_object().unwrap().len(), 1);

    // Another client adds one more that the DELETE below never saw: it must survive.
    let more = json!({"user_id": USER, "item_id": "itm_shirt123", "quantity": 1});
    let (status, _) = app.call(Method::POST, "/api/v1/cart/items", Some(&token), Some(more)).await;
    assert_eq!(status, StatusCode::OK);

    let delete = json!({"user_id": "usr_12345", "item_id": "itm_shirt123", "version_vector": vv});
    let (status, cart) = app.call(Method::DELETE, "/api/v1/cart/items", Some(&token), Some(delete)).await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    assert_eq!(cart["items"][0]["quantity"], 1, "only what the version vector had seen was removed: {cart}");
    assert_eq!(cart["items"][0]["unit_price"].to_string(), "29.99");
}

#[tokio::test]
async fn get_set_and_totals_are_exact() {
    let app = TestApp::new();
    let token = app.token(USER);
    for _ in 0..3 {
        let body = json!({"user_id": USER, "item_id": "itm_sticker", "quantity": 1, "unit_price": "0.10"});
        app.call(Method::POST, "/api/v1/cart/items", Some(&token), Some(body)).await;
    }
    let (status, cart) = app.call(Method::GET, "/api/v1/cart", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cart["total"].to_string(), "0.3");
    let set = json!({"user_id": USER, "item_id": "itm_sticker", "quantity": 7});
    let (status, cart) = app.call(Method::PUT, "/api/v1/cart/items", Some(&token), Some(set)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cart["items"][0]["quantity"], 7);
    assert_eq!(cart["total"].to_string(), "0.7");
    let zero = json!({"user_id": USER, "item_id": "itm_sticker", "quantity": 0});
    let (_, cart) = app.call(Method::PUT, "/api/v1/cart/items", Some(&token), Some(zero)).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_nothing_stored() {
    let app = TestApp::new();
    let token = app.token(USER);
    let cases = [
        (json!({"user_id": USER, "item_id": "itm_a", "quantity": 0}), "quantity"),
        (json!({"user_id": USER, "item_id": "itm_a", "quantity": 1000}), "quantity"),
        (json!({"user_id": USER, "item_id": "itm_a", "quantity": 1.5}), "quantity"),
        (json!({"user_id": USER, "item_id": "", "quantity": 1}), "item_id"),
        (json!({"user_id": USER, "item_id": "x".repeat(129), "quantity": 1}), "item_id"),
        (json!({"user_id": USER, "item_id": "itm_a", "quantity": 1, "unit_price": "abc"}), "unit_price"),
        (json!({"user_id": USER, "item_id": "itm_a", "quantity": 1, "unit_price": -1}), "unit_price"),
        (json!({"user_id": USER, "item_id": "itm_a", "quantity": 1, "colour": "red"}), "colour"),
        (json!({"user_id": USER, "item_id": "itm_a"}), "quantity"),
        (json!({"item_id": "itm_a", "quantity": 1}), "user_id"),
    ];
    for (body, expected) in cases {
        let (status, error) =
            app.call(Method::POST, "/api/v1/cart/items", Some(&token), Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert!(field(&error).contains(expected) || error.to_string().contains(expected), "{body}: {error}");
    }
    let (status, error) = app
        .raw(
            Method::POST,
            "/api/v1/cart/items",
            Some(&token),
            "application/json",
            b"{not json".to_vec(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&error).contains("malformed_body"));
    let exponent =
        br#"{"user_id": "usr_12345", "item_id": "itm_a", "quantity": 1, "unit_price": 1e400}"#.to_vec();
    let (status, error) =
        app.raw(Method::POST, "/api/v1/cart/items", Some(&token), "application/json", exponent, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&error).contains("unit_price"));
    let huge = vec![b' '; sync_server::app::MAX_BODY + 1];
    let (status, error) =
        app.raw(Method::POST, "/api/v1/cart/items", Some(&token), "application/json", huge, None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(String::from_utf8_lossy(&error).contains("body_too_large"));
    let delete = json!({"user_id": USER, "item_id": "itm_a", "version_vector": {"not-a-uuid": 1}});
    let (status, error) = app.call(Method::DELETE, "/api/v1/cart/items", Some(&token), Some(delete)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(field(&error).starts_with("version_vector"), "{error}");
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(&token), None).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 0, "nothing was stored: {cart}");
}

#[tokio::test]
async fn tokens_and_ownership_are_enforced() {
    let app = TestApp::new();
    let body = json!({"user_id": USER, "item_id": "itm_a", "quantity": 1});
    let (status, error) = app.call(Method::POST, "/api/v1/cart/items", None, Some(body.clone())).await;
    assert_eq!((status, code(&error)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    let (status, _) = app.call(Method::POST, "/api/v1/cart/items", Some("garbage"), Some(body.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let other = common::TestApp::new();
    let foreign =
        sync_server::auth::Auth::new("another-secret-of-16-bytes").unwrap().issue(USER, None, 60).unwrap();
    let (status, _) = other.call(Method::GET, "/api/v1/cart", Some(&foreign), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a token signed with another secret");
    let mallory = app.token("mallory");
    let (status, error) = app.call(Method::POST, "/api/v1/cart/items", Some(&mallory), Some(body)).await;
    assert_eq!((status, code(&error)), (StatusCode::FORBIDDEN, "forbidden"));
    let device = Replica::new();
    let mallory_device = app.device_token("mallory", device.id());
    let request = SyncRequest { context: device.context().clone(), delta: CartState::new() };
    let (status, _) = app
        .raw(
            Method::POST,
            "/api/v1/carts/cart-usr_12345/sync",
            Some(&mallory_device),
            "application/octet-stream",
            request.to_bytes(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another user's cart");
    let (status, _) =
        app.call(Method::GET, "/api/v1/carts/cart-usr_12345/events", Some(&mallory), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn sync(
    app: &TestApp,
    token: &str,
    device: &mut Replica,
    cart: &str,
) -> (StatusCode, Option<SyncResponse>) {
    let last = device.state().clone();
    let request = SyncRequest { context: device.context().clone(), delta: last };
    let (status, body) = app
        .raw(
            Method::POST,
            &format!("/api/v1/carts/{cart}/sync"),
            Some(token),
            "application/octet-stream",
            request.to_bytes(),
            None,
        )
        .await;
    if status != StatusCode::OK {
        return (status, None);
    }
    let response = SyncResponse::from_bytes(&body).unwrap();
    device.join(&response.delta);
    (status, Some(response))
}

#[tokio::test]
async fn devices_sync_binary_and_json_and_rest_sees_it() {
    let app = TestApp::new();
    let mut phone = Replica::new();
    let mut laptop = Replica::new();
    let (phone_token, laptop_token) =
        (app.device_token(USER, phone.id()), app.device_token(USER, laptop.id()));
    phone.add("itm_shirt", 2, &AttrPatch::new().unit_price("29.99")).unwrap();
    let (status, response) = sync(&app, &phone_token, &mut phone, "cart-usr_12345").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response.unwrap().durability.accepted_by, "us-west");
    // The laptop syncs in JSON.
    laptop.add("itm_shirt", 1, &AttrPatch::new()).unwrap();
    let request = SyncRequest { context: laptop.context().clone(), delta: laptop.state().clone() };
    let response = app.sync_json("cart-usr_12345", &laptop_token, &request).await;
    laptop.join(&response.delta);
    sync(&app, &phone_token, &mut phone, "cart-usr_12345").await;
    assert_eq!(phone.state().to_bytes(), laptop.state().to_bytes());
    assert_eq!(phone.state().quantity("itm_shirt"), 3);
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(&app.token(USER)), None).await;
    assert_eq!(cart["items"][0]["quantity"], 3);
    // A REST change reaches the devices through sync.
    let body = json!({"user_id": USER, "item_id": "itm_mug", "quantity": 1, "unit_price": 8.5});
    app.call(Method::POST, "/api/v1/cart/items", Some(&app.token(USER)), Some(body)).await;
    sync(&app, &phone_token, &mut phone, "cart-usr_12345").await;
    assert_eq!(phone.state().quantity("itm_mug"), 1);
}

#[tokio::test]
async fn sync_refuses_bad_bodies_and_needs_a_device_token() {
    let app = TestApp::new();
    let phone = Replica::new();
    let token = app.device_token(USER, phone.id());
    let uri = "/api/v1/carts/cart-usr_12345/sync";
    let (status, body) = app
        .raw(Method::POST, uri, Some(&token), "application/octet-stream", b"CSRQ\x01garbage".to_vec(), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("\"field\":\"body\""));
    let (status, _) = app.raw(Method::POST, uri, Some(&token), "text/plain", b"hello".to_vec(), None).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = app
        .raw(Method::POST, uri, Some(&token), "application/json", b"{\"context\":{}}".to_vec(), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let user_only = app.token(USER);
    let request = SyncRequest { context: phone.context().clone(), delta: CartState::new() };
    let (status, _) = app
        .raw(Method::POST, uri, Some(&user_only), "application/octet-stream", request.to_bytes(), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "syncing needs a device token");
}

/// A device may only send its own dots, and may claim to have seen only what this
/// region has: forged dots and forged contexts are refused and change nothing.
#[tokio::test]
async fn forged_dots_and_forged_contexts_are_refused() {
    let app = TestApp::new();
    let uri = "/api/v1/carts/cart-usr_12345/sync";
    let mut victim = Replica::new();
    let victim_token = app.device_token(USER, victim.id());
    victim.add("itm_a", 1, &AttrPatch::new()).unwrap();
    sync(&app, &victim_token, &mut victim, "cart-usr_12345").await;

    // Mallory's device mints a dot in the victim's name.
    let mut impostor = Replica::with_id(victim.id());
    impostor.add("itm_b", 1, &AttrPatch::new()).unwrap();
    impostor.add("itm_c", 1, &AttrPatch::new()).unwrap();
    let attacker = Replica::new();
    let attacker_token = app.device_token(USER, attacker.id());
    let forged = SyncRequest { context: attacker.context().clone(), delta: impostor.state().clone() };
    let (status, body) = app
        .raw(Method::POST, uri, Some(&attacker_token), "application/octet-stream", forged.to_bytes(), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{}", String::from_utf8_lossy(&body));

    // A context that claims the victim's next thousand changes, to swallow them.
    let forged_ctx = format!(
        r#"{{"context":{{}},"delta":{{"format":"cart-state","version":1,"context":{{"{}":"1-1000"}},"items":{{}}}}}}"#,
        victim.id()
    );
    let (status, _) = app
        .raw(Method::POST, uri, Some(&attacker_token), "application/json", forged_ctx.into_bytes(), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Nothing was stored; the victim's next add is not swallowed.
    victim.add("itm_d", 1, &AttrPatch::new()).unwrap();
    sync(&app, &victim_token, &mut victim, "cart-usr_12345").await;
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(&app.token(USER)), None).await;
    let items: Vec<&str> =
        cart["items"].as_array().unwrap().iter().map(|i| i["item_id"].as_str().unwrap()).collect();
    assert_eq!(items, vec!["itm_a", "itm_d"]);
    // A REST remove whose version vector claims unseen changes is refused too.
    let delete =
        json!({"user_id": USER, "item_id": "itm_a", "version_vector": {ReplicaId::random().to_string(): 5}});
    let (status, _) =
        app.call(Method::DELETE, "/api/v1/cart/items", Some(&app.token(USER)), Some(delete)).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// Two tabs of one device hear each other's changes before either syncs. On its own
/// token each would claim the other's unsynced changes and be refused, again and
/// again, each waiting for the other; with its sibling's token beside its own, either
/// tab syncs everything it holds, and both converge.
#[tokio::test]
async fn two_tabs_holding_each_others_unsent_changes_sync_with_sibling_tokens() {
    let app = TestApp::new();
    let uri = "/api/v1/carts/cart-usr_12345/sync";
    let (mut one, mut two) = (Replica::new(), Replica::new());
    let (one_token, two_token) = (app.device_token(USER, one.id()), app.device_token(USER, two.id()));
    let to_two = one.add("itm_heart", 1, &AttrPatch::new().unit_price("2.95")).unwrap();
    let to_one = two.add("itm_heart", 1, &AttrPatch::new()).unwrap();
    two.join(&to_two);
    one.join(&to_one);
    let to_one = two.set("itm_heart", 5, &AttrPatch::new()).unwrap();
    one.join(&to_one);

    let request =
        |tab: &Replica| SyncRequest { context: tab.context().clone(), delta: tab.state().clone() }.to_bytes();
    for (tab, token) in [(&one, &one_token), (&two, &two_token)] {
        let (status, _) =
            app.raw(Method::POST, uri, Some(token), "application/octet-stream", request(tab), None).await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "alone, each tab's claims of the other's changes are refused"
        );
    }
    // A sibling token of another user, or garbage, is refused and changes nothing.
    let mallory = app.device_token("usr_mallory", two.id());
    for bad in [mallory.as_str(), "not-a-token"] {
        let (status, body) = app
            .raw(
                Method::POST,
                uri,
                Some(&one_token),
                "application/octet-stream",
                request(&one),
                Some(("cart-sibling-tokens", bad)),
            )
            .await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
            "{status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(&app.token(USER)), None).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 0, "{cart}");

    let (status, body) = app
        .raw(
            Method::POST,
            uri,
            Some(&one_token),
            "application/octet-stream",
            request(&one),
            Some(("cart-sibling-tokens", &two_token)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (status, body) =
        app.raw(Method::POST, uri, Some(&two_token), "application/octet-stream", request(&two), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "now the region has seen tab one's changes: {}",
        String::from_utf8_lossy(&body)
    );
    two.join(&SyncResponse::from_bytes(&body).unwrap().delta);
    assert_eq!(one.state().to_bytes(), two.state().to_bytes());
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(&app.token(USER)), None).await;
    assert_eq!(cart["items"][0]["quantity"], 5, "{cart}");
    assert_eq!(cart["items"][0]["unit_price"].to_string(), "2.95");
}

#[tokio::test]
async fn checkout_freezes_what_it_read_once_per_key() {
    let app = TestApp::new();
    let token = app.token(USER);
    let mut phone = Replica::new();
    let phone_token = app.device_token(USER, phone.id());
    phone.add("itm_shirt", 2, &AttrPatch::new().unit_price("29.99")).unwrap();
    sync(&app, &phone_token, &mut phone, "cart-usr_12345").await;
    // Offline, the phone adds a mug the checkout will not read.
    phone.add("itm_mug", 1, &AttrPatch::new().unit_price("8.5")).unwrap();

    let (status, error) = app
        .raw(Method::POST, "/api/v1/cart/checkout", Some(&token), "application/json", Vec::new(), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&error));
    let key = Some(("idempotency-key", "order-attempt-1"));
    let (status, body) = app
        .raw(Method::POST, "/api/v1/cart/checkout", Some(&token), "application/json", Vec::new(), key)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let order: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(order["items"].as_array().unwrap().len(), 1);
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(order["total"], "59.98");
    let (status, again) = app
        .raw(Method::POST, "/api/v1/cart/checkout", Some(&token), "application/json", Vec::new(), key)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&again).unwrap()["order_id"], order["order_id"]);
    let other_key = Some(("idempotency-key", "order-attempt-2"));
    let (status, body) = app
        .raw(Method::POST, "/api/v1/cart/checkout", Some(&token), "application/json", Vec::new(), other_key)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{}", String::from_utf8_lossy(&body));

    // The mug, which the checkout did not read, stays; the shirt is gone everywhere.
    sync(&app, &phone_token, &mut phone, "cart-usr_12345").await;
    assert_eq!(phone.state().quantity("itm_shirt"), 0);
    assert_eq!(phone.state().quantity("itm_mug"), 1);
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(&token), None).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);

    let uri = format!("/api/v1/orders/{}", order["order_id"].as_str().unwrap());
    let (status, read) = app.call(Method::GET, &uri, Some(&token), None).await;
    assert_eq!((status, read["order_id"].clone()), (StatusCode::OK, order["order_id"].clone()));
    let (status, _) = app.call(Method::GET, &uri, Some(&app.token("mallory")), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn concurrent_checkouts_make_one_order() {
    let app = TestApp::new();
    let token = app.token(USER);
    let body = json!({"user_id": USER, "item_id": "itm_a", "quantity": 2, "unit_price": "5"});
    app.call(Method::POST, "/api/v1/cart/items", Some(&token), Some(body)).await;
    let attempts = (0..8).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            let key = format!("device-{i}");
            app.raw(
                Method::POST,
                "/api/v1/cart/checkout",
                Some(token),
                "application/json",
                Vec::new(),
                Some(("idempotency-key", &key)),
            )
            .await
            .0
        }
    });
    let statuses = futures_join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 7, "{statuses:?}");
}

/// Polls the futures together, so that they contend for the cart.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    join_vec(futures.into_iter().map(Box::pin).collect()).await
}

async fn join_vec<F: std::future::Future + Unpin>(futures: Vec<F>) -> Vec<F::Output> {
    let mut results: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut futures: Vec<Option<F>> = futures.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, result) in futures.iter_mut().zip(results.iter_mut()) {
            if let Some(f) = slot {
                match std::pin::Pin::new(f).poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    results.into_iter().map(|r| r.unwrap()).collect()
}

#[tokio::test]
async fn a_guest_cart_joins_the_account_at_login() {
    let app = TestApp::new();
    let guest = app.token("guest-7f3a");
    let body = json!({"user_id": "guest-7f3a", "item_id": "itm_a", "quantity": 2, "unit_price": "3"});
    app.call(Method::POST, "/api/v1/cart/items", Some(&guest), Some(body)).await;
    let user = app.token(USER);
    let body = json!({"user_id": USER, "item_id": "itm_a", "quantity": 1});
    app.call(Method::POST, "/api/v1/cart/items", Some(&user), Some(body)).await;
    let (status, cart) =
        app.call(Method::POST, "/api/v1/cart/merge", Some(&user), Some(json!({"guest_token": guest}))).await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    assert_eq!(cart["items"][0]["quantity"], 3, "the join adds both: {cart}");
    let (_, guest_cart) = app.call(Method::GET, "/api/v1/cart", Some(&guest), None).await;
    assert_eq!(guest_cart["items"].as_array().unwrap().len(), 0);
    let (status, error) =
        app.call(Method::POST, "/api/v1/cart/merge", Some(&user), Some(json!({"guest_token": "nope"}))).await;
    assert_eq!((status, field(&error)), (StatusCode::BAD_REQUEST, "guest_token"));
}

#[tokio::test]
async fn operator_routes_answer() {
    let app = TestApp::new();
    let (status, health) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, health["region"].as_str()), (StatusCode::OK, Some("us-west")));
    let (status, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let body = json!({"user_id": USER, "item_id": "itm_a", "quantity": 1});
    app.call(Method::POST, "/api/v1/cart/items", Some(&app.token(USER)), Some(body)).await;
    let (status, metrics) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.as_str().unwrap().contains("cart_changes_total"), "{metrics}");
    let (status, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/cart",
        "/api/v1/cart/items",
        "/api/v1/cart/merge",
        "/api/v1/cart/checkout",
        "/api/v1/orders/{order_id}",
        "/api/v1/carts/{cart_id}/sync",
        "/api/v1/carts/{cart_id}/events",
        "/internal/v1/carts/{cart_id}/sync",
        "/api/v1/demo/token",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
}

#[tokio::test]
async fn the_event_stream_announces_changes() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = TestApp::new();
    let token = app.token(USER);
    let request =
        axum::http::Request::get(format!("/api/v1/carts/cart-usr_12345/events?access_token={token}"))
            .body(axum::body::Body::empty())
            .unwrap();
    let response = app.router().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));
    let add = json!({"user_id": USER, "item_id": "itm_a", "quantity": 1});
    app.call(Method::POST, "/api/v1/cart/items", Some(&token), Some(add)).await;
    let next = tokio::time::timeout(std::time::Duration::from_secs(2), body.frame())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(next.data_ref().unwrap()).into_owned();
    assert!(text.contains("event: change") && text.contains("cart-usr_12345"), "{text}");
}

/// With a peer region unreachable, checkout cannot read the cart across regions: it
/// answers 503 with Retry-After and makes no order; local writes still work.
#[tokio::test]
async fn checkout_with_a_peer_down_is_503_and_local_writes_go_on() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = TestApp::with_peers("eu-central", &[format!("http://{closed}")]);
    let token = app.token(USER);
    let body = json!({"user_id": USER, "item_id": "itm_a", "quantity": 1});
    let (status, _) = app.call(Method::POST, "/api/v1/cart/items", Some(&token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "a peer that is down never blocks a local write");
    let request = axum::http::Request::post("/api/v1/cart/checkout")
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", "k1")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.router(), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let (_, cart) = app.call(Method::GET, "/api/v1/cart", Some(&token), None).await;
    assert_eq!(cart["items"][0]["quantity"], 1, "no order was made: the cart is untouched");
}

/// The peer route takes only region tokens, and answers with the whole cart to a peer
/// that has seen nothing.
#[tokio::test]
async fn the_peer_route_needs_a_region_token() {
    let app = TestApp::new();
    let body = json!({"user_id": USER, "item_id": "itm_a", "quantity": 2});
    app.call(Method::POST, "/api/v1/cart/items", Some(&app.token(USER)), Some(body)).await;
    let request =
        SyncRequest { context: cart_core::CausalContext::new(), delta: CartState::new() }.to_bytes();
    let uri = "/internal/v1/carts/cart-usr_12345/sync";
    let user = app.token(USER);
    let (status, _) =
        app.raw(Method::POST, uri, Some(&user), "application/octet-stream", request.clone(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let region = app.state.auth.issue_region("eu-central", 60).unwrap();
    let (status, body) =
        app.raw(Method::POST, uri, Some(&region), "application/octet-stream", request, None).await;
    assert_eq!(status, StatusCode::OK);
    let answer = SyncResponse::from_bytes(&body).unwrap();
    assert_eq!(answer.delta.quantity("itm_a"), 2);
    assert_eq!(answer.durability.accepted_by, "us-west");
}
