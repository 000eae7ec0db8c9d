//! The regional Redis cache (issue 7), against a real Redis and the real embedded store,
//! through the HTTP routes without sockets: a hit after a write; a device ahead of the
//! cache never gets the older cart; two servers of one region lose nothing; Redis killed
//! and restarted, slow, flushed, or holding garbage, never costs an answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod conformance;
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cart_core::{AttrPatch, CartState, CausalContext, Replica, SyncRequest, SyncResponse};
use http_body_util::BodyExt;
use redis_server::Redis;
use sync_server::state::AppState;
use sync_server::store::CartStore;
use sync_server::store::embedded::EmbeddedStore;
use sync_server::store::redis_cache::{CacheConfig, RedisCache};
use tower::ServiceExt;

const SECRET: &str = "test-secret-of-at-least-16-bytes";

/// One server of a region: its app, and its cache to read the counters of.
struct Server {
    state: AppState,
    cache: Arc<RedisCache>,
}

fn server(store: Arc<dyn CartStore>, redis: &Redis) -> Server {
    let cache = Arc::new(RedisCache::new(store, CacheConfig::new(&redis.url())).unwrap());
    let state = sync_server::build("us-west", cache.clone(), &[], SECRET).unwrap();
    Server { state, cache }
}

fn embedded() -> (Arc<EmbeddedStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Arc::new(EmbeddedStore::open(dir.path()).unwrap()), dir)
}

/// A shopper's device: its replica and its token.
struct Device {
    replica: Replica,
    token: String,
}

impl Server {
    fn device(&self, user: &str) -> Device {
        let replica = Replica::new();
        let token = self.state.auth.issue(user, Some(replica.id()), 3600).unwrap();
        Device { replica, token }
    }

    /// A device's sync (binary form): asserts 200; the device joins the answer.
    async fn sync(&self, user: &str, device: &mut Device, delta: CartState) -> SyncResponse {
        let request = SyncRequest { context: device.replica.context().clone(), delta };
        let answer = sync_server::app::app(self.state.clone())
            .oneshot(
                Request::post(format!("/api/v1/carts/cart-{user}/sync"))
                    .header("authorization", format!("Bearer {}", device.token))
                    .header("content-type", "application/octet-stream")
                    .body(Body::from(request.to_bytes()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = answer.status();
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let response = SyncResponse::from_bytes(&body).unwrap();
        device.replica.join(&response.delta);
        response
    }

    /// The device adds one item and syncs it.
    async fn add(&self, user: &str, device: &mut Device, item: &str, qty: i64) -> SyncResponse {
        let delta = device.replica.add(item, qty, &AttrPatch::new().unit_price("2.55")).unwrap();
        self.sync(user, device, delta).await
    }
}

#[tokio::test]
async fn the_cached_store_passes_the_conformance_suite() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let cache = RedisCache::new(store, CacheConfig::new(&redis.url())).unwrap();
    conformance::suite(&cache, "cached").await;
}

#[tokio::test]
async fn a_read_after_a_write_is_a_hit() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let region = server(store.clone(), &redis);
    let mut phone = region.device("u1");
    region.add("u1", &mut phone, "itm_tea", 2).await;
    // The write went to the store, then into the cache.
    let cached = region.cache.cached("cart-u1").await.expect("an entry after the write").unwrap();
    assert_eq!(cached.to_bytes(), store.load("cart-u1").await.unwrap().to_bytes());

    let before = region.cache.counts();
    let answer = region.sync("u1", &mut phone, CartState::new()).await;
    let after = region.cache.counts();
    assert_eq!(after.hits, before.hits + 1, "a read of what was just written is a hit: {after:?}");
    assert_eq!(after.read_throughs, before.read_throughs);
    assert!(answer.context.includes(phone.replica.context()));
    assert_eq!(phone.replica.state().quantity("itm_tea"), 2);

    // A second device that has seen nothing is served from the cache too, and gets it all.
    let mut laptop = region.device("u1");
    region.sync("u1", &mut laptop, CartState::new()).await;
    assert_eq!(region.cache.counts().hits, before.hits + 2);
    assert_eq!(laptop.replica.state().to_bytes(), store.load("cart-u1").await.unwrap().to_bytes());
}

#[tokio::test]
async fn a_device_ahead_of_the_cache_never_receives_the_older_cart() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let region = server(store.clone(), &redis);
    let mut phone = region.device("u2");
    region.add("u2", &mut phone, "itm_tea", 1).await;
    region.add("u2", &mut phone, "itm_mug", 1).await;

    // The shopper's laptop changes the cart through another region: the change reaches
    // this region's store by replication, as Cassandra's does, which the cache never hears
    // of; the phone sees it through the other region too.
    let mut laptop = Replica::new();
    laptop.join(phone.replica.state());
    let add_jam = laptop.add("itm_jam", 3, &AttrPatch::new().unit_price("4.10")).unwrap();
    let drop_tea = laptop.remove("itm_tea").unwrap();
    store.merge("cart-u2", add_jam.clone()).await.unwrap();
    store.merge("cart-u2", drop_tea.clone()).await.unwrap();
    phone.replica.join(&add_jam);
    phone.replica.join(&drop_tea);
    let cached = region.cache.cached("cart-u2").await.unwrap().unwrap();
    assert!(!cached.context().includes(phone.replica.context()), "the cache is behind the phone");
    assert_eq!(cached.quantity("itm_tea"), 1, "and still shows the removed item");

    // A third device that saw what the phone saw (it joined the phone's cart offline).
    let mut tablet = region.device("u2");
    tablet.replica.join(phone.replica.state());
    let before = region.cache.counts();
    let answer = region.sync("u2", &mut tablet, CartState::new()).await;
    assert!(
        answer.context.includes(phone.replica.context()),
        "the answer is at least what the device has seen"
    );
    assert_eq!(region.cache.counts().stale, before.stale + 1, "the stale entry was detected");
    assert_eq!(tablet.replica.state().quantity("itm_tea"), 0);
    assert_eq!(tablet.replica.state().quantity("itm_jam"), 3);
    let store_cart = store.load("cart-u2").await.unwrap();
    assert_eq!(tablet.replica.state().to_bytes(), store_cart.to_bytes());
    // The entry was refreshed: it now covers the phone, and the phone's read is a hit.
    let cached = region.cache.cached("cart-u2").await.unwrap().unwrap();
    assert_eq!(cached.to_bytes(), store_cart.to_bytes());
    let hits = region.cache.counts().hits;
    let answer = region.sync("u2", &mut phone, CartState::new()).await;
    assert_eq!(region.cache.counts().hits, hits + 1);
    assert!(answer.context.includes(phone.replica.context()));

    // A device that has seen nothing may get the cached cart, but only a fresh one: once
    // the window has passed, a change made under the cache reaches it too.
    let short = RedisCache::new(store.clone(), {
        let mut config = CacheConfig::new(&redis.url());
        config.fresh_for = Duration::from_millis(300);
        config.prefix = "short:".into();
        config
    })
    .unwrap();
    short.load_seen("cart-u2", &CausalContext::new()).await.unwrap();
    let late = laptop.add("itm_pot", 1, &AttrPatch::new()).unwrap();
    store.merge("cart-u2", late).await.unwrap();
    let served = short.load_seen("cart-u2", &CausalContext::new()).await.unwrap();
    assert_eq!(served.quantity("itm_pot"), 0, "within the window the entry is served");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let served = short.load_seen("cart-u2", &CausalContext::new()).await.unwrap();
    assert_eq!(served.quantity("itm_pot"), 1, "after the window the store is read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_of_one_region_writing_one_cart_lose_nothing() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let (a, b) = (Arc::new(server(store.clone(), &redis)), Arc::new(server(store.clone(), &redis)));
    let mut tasks = Vec::new();
    for d in 0..8_usize {
        let region = if d % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        tasks.push(tokio::spawn(async move {
            let mut device = region.device("u3");
            let mut behind = 0;
            for i in 0..15 {
                region.add("u3", &mut device, &format!("itm_{d}_{i}"), 1).await;
                // Entries only grow by joins: once a write is in, no other server's
                // refresh may take it out again.
                let cached = region.cache.cached("cart-u3").await.expect("an entry").unwrap();
                if !cached.context().includes(device.replica.context()) {
                    behind += 1;
                }
            }
            (device.replica.context().clone(), behind)
        }));
    }
    let mut everything = CausalContext::new();
    let mut behind = 0;
    for t in tasks {
        let (context, b) = t.await.unwrap();
        everything.union_with(&context);
        behind += b;
    }
    assert_eq!(behind, 0, "the entry lost a write already in it {behind} times");
    let store_cart = store.load("cart-u3").await.unwrap();
    assert_eq!(store_cart.len(), 120);
    let cached = a.cache.cached("cart-u3").await.expect("an entry").unwrap();
    assert!(cached.context().includes(&everything), "the entry holds every device's writes");
    assert_eq!(cached.to_bytes(), store_cart.to_bytes());
    // Compactions keep the key's expiry: no entry outlives the window by being compacted.
    let ttl = redis.command(&["PTTL", &a.cache.key("cart-u3")]).await.unwrap();
    assert!(matches!(ttl, redis::Value::Int(ms) if ms > 0), "PTTL {ttl:?}");
    eprintln!(
        "compactions lost to another server: {}",
        a.cache.counts().contention + b.cache.counts().contention
    );
}

#[tokio::test]
async fn redis_killed_mid_test_and_restarted_costs_no_answer() {
    let mut redis = Redis::start().await;
    let (store, _dir) = embedded();
    let region = server(store.clone(), &redis);
    let mut phone = region.device("u4");
    region.add("u4", &mut phone, "itm_tea", 1).await;

    redis.kill();
    // Writes and reads go on, from the store, while Redis is away.
    for i in 0..5 {
        region.add("u4", &mut phone, &format!("itm_{i}"), 1).await;
        region.sync("u4", &mut phone, CartState::new()).await;
    }
    assert!(region.cache.counts().redis_errors >= 1, "{:?}", region.cache.counts());
    let mut laptop = region.device("u4");
    region.sync("u4", &mut laptop, CartState::new()).await;
    assert_eq!(laptop.replica.state().to_bytes(), store.load("cart-u4").await.unwrap().to_bytes());

    // Back, empty: the cache fills again and serves hits.
    redis.restart().await;
    let started = Instant::now();
    loop {
        let hits = region.cache.counts().hits;
        region.sync("u4", &mut laptop, CartState::new()).await;
        if region.cache.counts().hits > hits {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "no hit after Redis came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(laptop.replica.state().to_bytes(), store.load("cart-u4").await.unwrap().to_bytes());
}

#[tokio::test]
async fn a_slow_redis_is_a_miss_not_a_slow_or_failed_answer() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let region = server(store.clone(), &redis);
    let mut phone = region.device("u5");
    region.add("u5", &mut phone, "itm_tea", 1).await;
    // Redis stops answering for a second (it runs one command at a time).
    let url = redis.url();
    let sleeper = tokio::spawn(async move {
        let client = redis::Client::open(url).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let _: redis::RedisResult<()> = redis::cmd("DEBUG").arg("SLEEP").arg("1").query_async(&mut c).await;
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut laptop = region.device("u5");
    region.sync("u5", &mut laptop, CartState::new()).await;
    assert_eq!(laptop.replica.state().quantity("itm_tea"), 1);
    assert!(region.cache.counts().redis_errors >= 1, "the slow call timed out: {:?}", region.cache.counts());
    sleeper.await.unwrap();
}

#[tokio::test]
async fn a_flushed_redis_is_read_through_and_refilled() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let region = server(store.clone(), &redis);
    let mut phone = region.device("u6");
    region.add("u6", &mut phone, "itm_tea", 1).await;
    region.add("u6", &mut phone, "itm_mug", 2).await;
    redis.command(&["FLUSHALL"]).await.unwrap();
    assert!(region.cache.cached("cart-u6").await.is_none());

    let before = region.cache.counts();
    let mut laptop = region.device("u6");
    region.sync("u6", &mut laptop, CartState::new()).await;
    assert_eq!(region.cache.counts().misses, before.misses + 1);
    assert_eq!(laptop.replica.state().to_bytes(), store.load("cart-u6").await.unwrap().to_bytes());
    let refilled = region.cache.cached("cart-u6").await.unwrap().unwrap();
    assert_eq!(refilled.to_bytes(), store.load("cart-u6").await.unwrap().to_bytes());
}

#[tokio::test]
async fn garbage_under_a_carts_key_is_detected_and_replaced_not_served() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let region = server(store.clone(), &redis);
    let mut phone = region.device("u7");
    region.add("u7", &mut phone, "itm_tea", 1).await;
    let key = region.cache.key("cart-u7");
    // Garbage of every kind: a value of another type, an element of another cart, a
    // damaged element.
    let other = {
        let mut other = region.device("u8");
        region.add("u8", &mut other, "itm_bomb", 99).await;
        let key = region.cache.key("cart-u8");
        match redis.command(&["LINDEX", &key, "0"]).await.unwrap() {
            redis::Value::BulkString(bytes) => bytes,
            v => panic!("{v:?}"),
        }
    };
    let mut damaged = other.clone();
    *damaged.last_mut().unwrap() ^= 0x55;
    let plant =
        |command: &str, value: Vec<u8>| vec![command.as_bytes().to_vec(), key.clone().into_bytes(), value];
    for garbage in
        [plant("SET", b"{\"not\": \"a cart\"}".to_vec()), plant("RPUSH", other), plant("RPUSH", damaged)]
    {
        redis.command(&["DEL", &key]).await.unwrap();
        redis.command_bytes(&garbage).await.unwrap();
        assert!(region.cache.cached("cart-u7").await.unwrap().is_err());
        let before = region.cache.counts();
        let mut laptop = region.device("u7");
        region.sync("u7", &mut laptop, CartState::new()).await;
        assert_eq!(region.cache.counts().stale, before.stale + 1);
        assert_eq!(laptop.replica.state().quantity("itm_bomb"), 0, "garbage was served");
        assert_eq!(laptop.replica.state().to_bytes(), store.load("cart-u7").await.unwrap().to_bytes());
        let replaced = region.cache.cached("cart-u7").await.unwrap().expect("replaced by the store's cart");
        assert_eq!(replaced.to_bytes(), store.load("cart-u7").await.unwrap().to_bytes());
    }
}

#[tokio::test]
async fn a_checkout_through_the_cache_empties_the_cached_cart() {
    let redis = Redis::start().await;
    let (store, _dir) = embedded();
    let region = server(store.clone(), &redis);
    let mut phone = region.device("u9");
    region.add("u9", &mut phone, "itm_tea", 2).await;
    let token = region.state.auth.issue("u9", None, 3600).unwrap();
    let answer = sync_server::app::app(region.state.clone())
        .oneshot(
            Request::post("/api/v1/cart/checkout")
                .header("authorization", format!("Bearer {token}"))
                .header("idempotency-key", "order-9")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    let cached = region.cache.cached("cart-u9").await.unwrap().unwrap();
    assert_eq!(cached.len(), 0, "the entry holds the checkout's removal");
    assert_eq!(cached.to_bytes(), store.load("cart-u9").await.unwrap().to_bytes());
}
