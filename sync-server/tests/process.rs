//! The real binary, as an operator runs it: kill -9 during a stream of writes loses
//! no acknowledged change; a peer stopped and restarted while both regions take writes
//! ends byte-identical with the other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cart_core::{CartState, CausalContext, SyncRequest, SyncResponse};
use common::SECRET;
use serde_json::json;

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the binary and waits for its "listening on" line.
fn serve(region: &str, port: u16, data: &Path, peers: &[u16]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sync-server"));
    command
        .args(["serve", "--region", region, "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data)
        .env("CART_TOKEN_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for peer in peers {
        command.args(["--peer", &format!("http://127.0.0.1:{peer}")]);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    Server { child, url: format!("http://127.0.0.1:{port}") }
}

fn auth() -> sync_server::auth::Auth {
    sync_server::auth::Auth::new(SECRET).unwrap()
}

async fn add(client: &reqwest::Client, url: &str, item: &str) -> Result<(), String> {
    let token = auth().issue("shopper", None, 600).unwrap();
    let response = client
        .post(format!("{url}/api/v1/cart/items"))
        .bearer_auth(token)
        .json(&json!({"user_id": "shopper", "item_id": item, "quantity": 1}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status() == 200 { Ok(()) } else { Err(response.status().to_string()) }
}

/// A region's whole stored cart, read through the peer sync route.
async fn whole_cart(client: &reqwest::Client, server: &Server) -> Option<CartState> {
    let token = auth().issue_region("observer", 600).unwrap();
    let request = SyncRequest { context: CausalContext::new(), delta: CartState::new() };
    let response = client
        .post(format!("{}/internal/v1/carts/cart-shopper/sync", server.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(request.to_bytes())
        .send()
        .await
        .ok()?;
    Some(SyncResponse::from_bytes(&response.bytes().await.ok()?).ok()?.delta)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = serve("us-west", port, dir.path(), &[]);
    let client = reqwest::Client::new();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, acked, url) =
                (client.clone(), std::sync::Arc::clone(&acknowledged), server.url.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let item = format!("itm_{w}_{i}");
                    match add(&client, &url, &item).await {
                        Ok(()) => acked.lock().unwrap().push(item),
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.child.kill().unwrap(); // SIGKILL, mid-stream
    server.child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(acked.len() > 20, "only {} writes were acknowledged", acked.len());
    let server = serve("us-west", port, dir.path(), &[]);
    let cart = whole_cart(&client, &server).await.unwrap();
    let missing: Vec<&String> = acked.iter().filter(|i| cart.quantity(i) == 0).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged adds lost: {missing:?}", missing.len(), acked.len());
    eprintln!("{} acknowledged adds, all present after kill -9", acked.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_stopped_and_restarted_converges() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (port_a, port_b) = (free_port(), free_port());
    let a = serve("us-west", port_a, dir_a.path(), &[port_b]);
    let mut b = serve("eu-central", port_b, dir_b.path(), &[port_a]);
    let client = reqwest::Client::new();
    for i in 0..10 {
        add(&client, &a.url, &format!("itm_a{i}")).await.unwrap();
        add(&client, &b.url, &format!("itm_b{i}")).await.unwrap();
    }
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    for i in 10..30 {
        add(&client, &a.url, &format!("itm_a{i}")).await.unwrap(); // local writes go on
    }
    let b = serve("eu-central", port_b, dir_b.path(), &[port_a]);
    for i in 10..20 {
        add(&client, &b.url, &format!("itm_b{i}")).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (x, y) = (whole_cart(&client, &a).await, whole_cart(&client, &b).await);
        if let (Some(x), Some(y)) = (&x, &y)
            && x.to_bytes() == y.to_bytes()
            && x.len() == 50
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no convergence: {:?} vs {:?} items",
            x.map(|s| s.len()),
            y.map(|s| s.len())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_event_streams_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve("us-west", free_port(), dir.path(), &[]);
    let token = auth().issue("shopper", None, 600).unwrap();
    let mut events = reqwest::Client::new()
        .get(format!("{}/api/v1/carts/cart-shopper/events", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: ready"));

    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // The stream ends (a browser's EventSource then reconnects elsewhere) and the process exits.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while events.chunk().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the event stream is still open 10 s after SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM with a listener");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(server.child.try_wait().unwrap().unwrap().success());
}

/// Every flag of `serve --store cassandra` parses, and bad values and an unreachable
/// cluster end the process with a message naming what is wrong: never a panic. (A flag
/// whose parser and field disagreed once panicked inside the argument parser.)
#[test]
fn cassandra_flags_parse_and_bad_values_are_named() {
    let port = free_port().to_string();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sync-server"))
            .args(["serve", "--store", "cassandra", "--region", "us-west", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env("CART_TOKEN_SECRET", SECRET)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success());
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    // Nothing listens on port 1: every flag parsed, then the connection failed.
    let stderr = run(&[
        "--cassandra-contact-points",
        "127.0.0.1:1",
        "--cassandra-local-dc",
        "us-west",
        "--cassandra-keyspace",
        "shop",
        "--cassandra-replication",
        "us-west:3,eu-central:3",
        "--cassandra-dc-failover",
    ]);
    assert!(stderr.contains("error: --store cassandra: cannot reach Cassandra at 127.0.0.1:1"), "{stderr}");
    let stderr = run(&["--cassandra-replication", "us-west"]);
    assert!(stderr.contains("--cassandra-replication") && stderr.contains("DC:FACTOR"), "{stderr}");
    let stderr = run(&["--cassandra-contact-points", "127.0.0.1:1", "--cassandra-keyspace", "no-dashes"]);
    assert!(stderr.contains("keyspace 'no-dashes'"), "{stderr}");
}

/// `--cache`: bad values end the process with a message naming the flag; a Redis that
/// is not there does not stop the server, which serves from its store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_flags_are_checked_and_an_absent_redis_costs_no_answer() {
    let data = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sync-server"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
            .arg("--data-dir")
            .arg(data.path())
            .args(extra)
            .env("CART_TOKEN_SECRET", SECRET)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success());
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let stderr = run(&["--cache", "memcached://127.0.0.1:1"]);
    assert!(stderr.contains("error: --cache memcached://127.0.0.1:1:"), "{stderr}");
    let stderr = run(&["--cache", "redis://127.0.0.1:1", "--cache-fresh-for", "0s"]);
    assert!(stderr.contains("--cache-fresh-for: must be more than zero"), "{stderr}");
    let stderr = run(&["--cache", "redis://127.0.0.1:1", "--cache-fresh-for", "soon"]);
    assert!(stderr.contains("--cache-fresh-for"), "{stderr}");

    // Nothing listens on port 1: the server starts and answers from the store.
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--cache", "redis://127.0.0.1:1"])
        .arg("--data-dir")
        .arg(data.path())
        .env("CART_TOKEN_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let server = Server { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    add(&client, &server.url, "itm_tea").await.unwrap();
    let device = cart_core::ReplicaId::random();
    let token = auth().issue("shopper", Some(device), 600).unwrap();
    let request = SyncRequest { context: CausalContext::new(), delta: CartState::new() };
    let answer = client
        .post(format!("{}/api/v1/carts/cart-shopper/sync", server.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(request.to_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let cart = SyncResponse::from_bytes(&answer.bytes().await.unwrap()).unwrap().delta;
    assert_eq!(cart.quantity("itm_tea"), 1);
    let metrics = client.get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("cart_cache_redis_errors_total"), "{metrics}");
}
