//! Region-to-region replication without a database: each region is a replica of every
//! cart and runs the same sync protocol a device uses with each peer.
//!
//! A change marks its cart dirty for every peer; one task per peer sends its dirty
//! carts (`delta_since` of what the peer last acknowledged, with our context) and joins
//! the peer's answer. A peer that is down delays replication, never a local write: the
//! cart stays dirty and is retried with backoff. At start every cart is dirty, so a
//! restarted region catches up in both directions.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cart_core::{CausalContext, SyncRequest, SyncResponse};
use tokio::sync::Notify;

use crate::region::Region;

/// One peer region.
pub struct Peer {
    /// Its base URL, e.g. `http://127.0.0.1:8081`.
    pub url: String,
    name: Mutex<Option<String>>,
    dirty: Mutex<HashSet<String>>,
    wake: Notify,
    /// Per cart, the context the peer last said it holds.
    acked: Mutex<HashMap<String, CausalContext>>,
}

/// The peers of a region.
#[derive(Default)]
pub struct Peers {
    list: Vec<Arc<Peer>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Peers {
    /// Peers at these base URLs.
    #[must_use]
    pub fn new(urls: &[String]) -> Self {
        let list = urls
            .iter()
            .map(|url| {
                Arc::new(Peer {
                    url: url.trim_end_matches('/').to_owned(),
                    name: Mutex::new(None),
                    dirty: Mutex::new(HashSet::new()),
                    wake: Notify::new(),
                    acked: Mutex::new(HashMap::new()),
                })
            })
            .collect();
        Self { list }
    }

    /// The peers.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Peer>> {
        self.list.iter()
    }

    /// Queues a changed cart for every peer but the one it came from.
    pub fn mark_dirty(&self, cart_id: &str, except: Option<&str>) {
        for peer in &self.list {
            if except.is_some() && locked(&peer.name).as_deref() == except {
                continue;
            }
            locked(&peer.dirty).insert(cart_id.to_owned());
            peer.wake.notify_one();
        }
    }

    /// Starts every peer's replication now (a device showed changes we lack).
    pub fn wake_all(&self) {
        for peer in &self.list {
            peer.wake.notify_one();
        }
    }

    /// The peers known to hold everything in `own` of this cart.
    #[must_use]
    pub fn holding(&self, cart_id: &str, own: &CausalContext) -> Vec<String> {
        if own.is_empty() {
            return Vec::new();
        }
        self.list
            .iter()
            .filter(|p| locked(&p.acked).get(cart_id).is_some_and(|ctx| ctx.includes(own)))
            .filter_map(|p| locked(&p.name).clone())
            .collect()
    }

    /// Starts one replication task per peer.
    pub fn spawn(region: &Arc<Region>, token: String) {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap_or_default();
        for peer in region.peers.iter() {
            let (region, peer, client, token) =
                (Arc::clone(region), Arc::clone(peer), client.clone(), token.clone());
            tokio::spawn(async move { replicate(region, peer, client, token).await });
        }
    }
}

impl Peer {
    /// The peer's region name, once it has answered.
    #[must_use]
    pub fn name(&self) -> Option<String> {
        locked(&self.name).clone()
    }
}

async fn replicate(region: Arc<Region>, peer: Arc<Peer>, client: reqwest::Client, token: String) {
    match region.store.cart_ids().await {
        Ok(ids) => locked(&peer.dirty).extend(ids),
        Err(e) => {
            tracing::warn!(peer = %peer.url, error = %e, "cannot list carts for the first pass")
        }
    }
    let mut backoff = Duration::from_millis(100);
    loop {
        let batch: Vec<String> = locked(&peer.dirty).drain().collect();
        let mut failed = false;
        for (i, cart_id) in batch.iter().enumerate() {
            if let Err(e) = sync_cart(&region, &peer, &client, &token, cart_id).await {
                tracing::warn!(peer = %peer.url, cart = %cart_id, error = %e, "replication failed; will retry");
                metrics::counter!("cart_replication_failures_total").increment(1);
                locked(&peer.dirty).extend(batch.iter().skip(i).cloned());
                failed = true;
                break;
            }
        }
        if failed {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(Duration::from_secs(5));
            continue;
        }
        backoff = Duration::from_millis(100);
        if locked(&peer.dirty).is_empty() {
            let _ = tokio::time::timeout(Duration::from_secs(5), peer.wake.notified()).await;
        }
    }
}

/// One round of the sync protocol with a peer for one cart.
///
/// # Errors
/// When the peer cannot be reached or answers badly.
pub async fn sync_cart(
    region: &Region,
    peer: &Peer,
    client: &reqwest::Client,
    token: &str,
    cart_id: &str,
) -> Result<(), String> {
    let state = region.store.load(cart_id).await.map_err(|e| e.to_string())?;
    let acked = locked(&peer.acked).get(cart_id).cloned().unwrap_or_default();
    let request = SyncRequest { context: state.context().clone(), delta: state.delta_since(&acked) };
    let response = client
        .post(format!("{}/internal/v1/carts/{cart_id}/sync", peer.url))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(request.to_bytes())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
    }
    let answer = SyncResponse::from_bytes(&body).map_err(|e| e.to_string())?;
    *locked(&peer.name) = Some(answer.durability.accepted_by.clone());
    let from = answer.durability.accepted_by.clone();
    region.apply(cart_id, answer.delta, Some(&from)).await.map_err(|e| e.to_string())?;
    locked(&peer.acked).insert(cart_id.to_owned(), answer.context);
    metrics::counter!("cart_replication_syncs_total").increment(1);
    Ok(())
}
