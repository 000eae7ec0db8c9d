//! Real sockets: two regions that replicate with each other (no database server),
//! three devices syncing through them, converging byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use cart_core::{AttrPatch, Replica, SyncRequest, SyncResponse};
use common::SECRET;
use sync_server::state::AppState;
use sync_server::store::embedded::EmbeddedStore;

struct Region {
    state: AppState,
    url: String,
    _dir: tempfile::TempDir,
}

async fn start_pair() -> (Region, Region) {
    let a = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (url_a, url_b) =
        (format!("http://{}", a.local_addr().unwrap()), format!("http://{}", b.local_addr().unwrap()));
    let start = |name: &str, listener: tokio::net::TcpListener, url: String, peer: String| {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let state = sync_server::build(name, store, &[peer], SECRET).unwrap();
        let app = sync_server::app::app(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Region { state, url, _dir: dir }
    };
    (start("us-west", a, url_a.clone(), url_b.clone()), start("eu-central", b, url_b, url_a))
}

async fn sync(client: &reqwest::Client, region: &Region, token: &str, device: &mut Replica) -> SyncResponse {
    let request = SyncRequest { context: device.context().clone(), delta: device.state().clone() };
    let response = client
        .post(format!("{}/api/v1/carts/cart-shopper/sync", region.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(request.to_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer = SyncResponse::from_bytes(&response.bytes().await.unwrap()).unwrap();
    device.join(&answer.delta);
    answer
}

async fn stored(region: &Region) -> Vec<u8> {
    region.state.region.store.load("cart-shopper").await.unwrap().to_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_regions_and_three_devices_converge() {
    let (west, central) = start_pair().await;
    let client = reqwest::Client::new();
    let mut phone = Replica::new();
    let mut laptop = Replica::new();
    let mut tablet = Replica::new();
    let token = |r: &Replica| west.state.auth.issue("shopper", Some(r.id()), 600).unwrap();
    let (t_phone, t_laptop, t_tablet) = (token(&phone), token(&laptop), token(&tablet));

    phone.add("itm_shirt", 2, &AttrPatch::new().unit_price("29.99")).unwrap();
    laptop.add("itm_shirt", 1, &AttrPatch::new()).unwrap();
    tablet.add("itm_mug", 3, &AttrPatch::new().unit_price("8.5")).unwrap();
    sync(&client, &west, &t_phone, &mut phone).await;
    let answer = sync(&client, &west, &t_laptop, &mut laptop).await;
    assert_eq!(answer.durability.accepted_by, "us-west");
    sync(&client, &central, &t_tablet, &mut tablet).await;
    // Concurrently: the tablet removes the mug while the phone removes the shirt it saw.
    tablet.remove("itm_mug").unwrap();
    phone.remove("itm_shirt").unwrap();
    sync(&client, &central, &t_tablet, &mut tablet).await;
    sync(&client, &west, &t_phone, &mut phone).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (a, b) = (stored(&west).await, stored(&central).await);
        if a == b {
            break;
        }
        assert!(Instant::now() < deadline, "regions did not converge");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Every device syncs once more, each with its own region.
    sync(&client, &west, &t_phone, &mut phone).await;
    let answer = sync(&client, &west, &t_laptop, &mut laptop).await;
    sync(&client, &central, &t_tablet, &mut tablet).await;
    let region_bytes = stored(&west).await;
    for device in [&phone, &laptop, &tablet] {
        assert_eq!(device.state().to_bytes(), region_bytes, "device {}", device.id());
    }
    // The laptop's add survived the phone's remove (it was never seen by it); the mug is gone.
    assert_eq!(phone.state().quantity("itm_shirt"), 1);
    assert_eq!(phone.state().quantity("itm_mug"), 0);
    assert_eq!(answer.durability.replicated_to, vec!["eu-central".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_in_either_region_makes_one_order() {
    let (west, central) = start_pair().await;
    let client = reqwest::Client::new();
    let mut phone = Replica::new();
    let token = west.state.auth.issue("shopper", Some(phone.id()), 600).unwrap();
    phone.add("itm_shirt", 1, &AttrPatch::new().unit_price("10")).unwrap();
    sync(&client, &west, &token, &mut phone).await;
    let user = west.state.auth.issue("shopper", None, 600).unwrap();
    let checkout = |url: String, key: &'static str| {
        let (client, user) = (client.clone(), user.clone());
        async move {
            let response = client
                .post(format!("{url}/api/v1/cart/checkout"))
                .bearer_auth(user)
                .header("idempotency-key", key)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let (a, b) =
        tokio::join!(checkout(west.url.clone(), "phone-1"), checkout(central.url.clone(), "tablet-1"));
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{a:?} {b:?}");
    let created = if a.0 == 201 { &a.1 } else { &b.1 };
    let order: serde_json::Value = serde_json::from_str(created).unwrap();
    // The order is readable from both regions.
    for url in [&west.url, &central.url] {
        let read = client
            .get(format!("{url}/api/v1/orders/{}", order["order_id"].as_str().unwrap()))
            .bearer_auth(&user)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200);
    }
}
