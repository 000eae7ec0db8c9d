//! The devices: cart-core replicas that sync with their regions over HTTP, as the
//! browser package does, and check out.

use std::time::{Duration, Instant};

use cart_core::{AttrPatch, CartState, CausalContext, Replica, SyncRequest, SyncResponse};

/// One region of the system under test.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    /// Its name (us-west, ...).
    pub(crate) name: String,
    /// Its base URL.
    pub(crate) url: String,
}

/// What went wrong with a request, after retries.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Failure(pub String);

/// When the replay started: the timeline's zero.
pub(crate) static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Latencies and counts of one kind of request.
#[derive(Debug, Default)]
pub(crate) struct Timings {
    /// Every latency, in microseconds.
    pub(crate) micros: Vec<u64>,
    /// (second of the replay it ended in, latency in microseconds), for the timeline.
    pub(crate) timeline: Vec<(u32, u64)>,
    /// Requests answered 409 or 503 and sent again.
    pub(crate) retried: u64,
}

/// A device: a replica with its token and its region, and what that region has seen.
pub(crate) struct Device {
    /// The replica.
    pub(crate) replica: Replica,
    token: String,
    /// Index of its region.
    pub(crate) region: usize,
    region_context: CausalContext,
}

/// The HTTP side of the fleet: one client, the regions, and the token signer.
pub(crate) struct Fleet {
    client: reqwest::Client,
    /// The regions, in the order given.
    pub(crate) regions: Vec<Region>,
    auth: sync_server::auth::Auth,
}

/// How many times a request answered 409 (a region not yet replicated) or 503 is sent again.
const ATTEMPTS: u32 = 60;

impl Timings {
    /// Records one request that took `took`.
    pub(crate) fn record(&mut self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let second = STARTED.get().map_or(0, |s| u32::try_from(s.elapsed().as_secs()).unwrap_or(u32::MAX));
        self.micros.push(micros);
        self.timeline.push((second, micros));
    }
}

impl Fleet {
    /// A fleet against `regions`, signing tokens with the regions' secret.
    ///
    /// # Errors
    /// When the secret is not a usable key.
    pub(crate) fn new(regions: Vec<Region>, secret: &str, concurrency: usize) -> Result<Self, String> {
        let auth = sync_server::auth::Auth::new(secret).map_err(|e| format!("--token-secret: {e}"))?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, regions, auth })
    }

    /// A new device of `user`, homed in region `region`.
    ///
    /// # Errors
    /// When no token can be made.
    pub(crate) fn device(&self, user: &str, region: usize) -> Result<Device, String> {
        let replica = Replica::new();
        let token = self.auth.issue(user, Some(replica.id()), 7 * 24 * 3600).map_err(|e| e.message)?;
        Ok(Device { replica, token, region, region_context: CausalContext::new() })
    }

    fn cart(user: &str) -> String {
        format!("cart-{user}")
    }

    fn url(&self, region: usize) -> Result<&str, Failure> {
        self.regions.get(region).map(|r| r.url.as_str()).ok_or_else(|| Failure(format!("no region {region}")))
    }

    /// One sync round of `device` (its changes up, what it lacks down), retried while the
    /// region answers 409 or 503.
    ///
    /// # Errors
    /// The last failure when retries run out, or any other answer.
    pub(crate) async fn sync(
        &self,
        user: &str,
        device: &mut Device,
        timings: &mut Timings,
    ) -> Result<(), Failure> {
        let url = format!("{}/api/v1/carts/{}/sync", self.url(device.region)?, Self::cart(user));
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            let request = SyncRequest {
                context: device.replica.context().clone(),
                delta: device.replica.delta_since(&device.region_context),
            };
            let started = Instant::now();
            let answer = self
                .client
                .post(&url)
                .bearer_auth(&device.token)
                .header("content-type", "application/octet-stream")
                .body(request.to_bytes())
                .send()
                .await;
            let answer = match answer {
                Ok(a) => a,
                Err(e) => return Err(Failure(format!("sync: {e}"))),
            };
            let status = answer.status().as_u16();
            let body = answer.bytes().await.map_err(|e| Failure(format!("sync: {e}")))?;
            timings.record(started.elapsed());
            match status {
                200 => {
                    let response =
                        SyncResponse::from_bytes(&body).map_err(|e| Failure(format!("sync answer: {e}")))?;
                    device.replica.join(&response.delta);
                    device.region_context = response.context;
                    return Ok(());
                }
                409 | 503 => {
                    timings.retried = timings.retried.saturating_add(1);
                    last = format!("sync {status}: {}", String::from_utf8_lossy(&body));
                    tokio::time::sleep(Duration::from_millis(
                        20_u64.saturating_mul(u64::from(attempt).min(10).saturating_add(1)),
                    ))
                    .await;
                }
                _ => return Err(Failure(format!("sync {status}: {}", String::from_utf8_lossy(&body)))),
            }
        }
        Err(Failure(last))
    }

    /// Syncs `device` until it has seen everything `others` hold (their changes reached
    /// its region), as a shopper's device shows the whole cart before checkout.
    ///
    /// # Errors
    /// When that does not happen within a minute.
    pub(crate) async fn catch_up(
        &self,
        user: &str,
        device: &mut Device,
        others: &[CausalContext],
        timings: &mut Timings,
    ) -> Result<(), Failure> {
        let started = Instant::now();
        loop {
            self.sync(user, device, timings).await?;
            if others.iter().all(|c| device.replica.context().includes(c)) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(Failure("a device did not see the other device's changes within 60 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Checks out `user`'s cart at `region` with `key`: the order's JSON.
    ///
    /// # Errors
    /// Any answer but 201 or 200 (a retried key), after retrying 503s.
    pub(crate) async fn checkout(
        &self,
        user: &str,
        region: usize,
        key: &str,
        timings: &mut Timings,
    ) -> Result<serde_json::Value, Failure> {
        let token = self.auth.issue(user, None, 3600).map_err(|e| Failure(e.message))?;
        let url = format!("{}/api/v1/cart/checkout", self.url(region)?);
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            let started = Instant::now();
            let answer = self
                .client
                .post(&url)
                .bearer_auth(&token)
                .header("idempotency-key", key)
                .send()
                .await
                .map_err(|e| Failure(format!("checkout: {e}")))?;
            let status = answer.status().as_u16();
            let body = answer.bytes().await.map_err(|e| Failure(format!("checkout: {e}")))?;
            timings.record(started.elapsed());
            match status {
                200 | 201 => {
                    return serde_json::from_slice(&body)
                        .map_err(|e| Failure(format!("checkout answer: {e}")));
                }
                503 => {
                    timings.retried = timings.retried.saturating_add(1);
                    last = format!("checkout 503: {}", String::from_utf8_lossy(&body));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => return Err(Failure(format!("checkout {status}: {}", String::from_utf8_lossy(&body)))),
            }
        }
        Err(Failure(last))
    }

    /// The cart as `region` holds it, whole (a sync that claims to have seen nothing).
    ///
    /// # Errors
    /// When the region does not answer with a state.
    pub(crate) async fn cart_at(&self, user: &str, region: usize) -> Result<CartState, Failure> {
        let auditor = self.device(user, region).map_err(Failure)?;
        let request = SyncRequest { context: CausalContext::new(), delta: CartState::new() };
        let answer = self
            .client
            .post(format!("{}/api/v1/carts/{}/sync", self.url(region)?, Self::cart(user)))
            .bearer_auth(&auditor.token)
            .header("content-type", "application/octet-stream")
            .body(request.to_bytes())
            .send()
            .await
            .map_err(|e| Failure(format!("audit: {e}")))?;
        let body = answer.bytes().await.map_err(|e| Failure(format!("audit: {e}")))?;
        SyncResponse::from_bytes(&body).map(|r| r.delta).map_err(|e| Failure(format!("audit answer: {e}")))
    }
}

/// A device's add of one line: quantity, price and name.
///
/// # Errors
/// When cart-core refuses the line.
pub(crate) fn add_line(device: &mut Device, line: &crate::data::Line) -> Result<(), Failure> {
    let mut attrs = AttrPatch::new().unit_price(line.price.clone());
    if !line.name.is_empty() {
        attrs = attrs.name(line.name.clone());
    }
    device
        .replica
        .add(&line.item, i64::from(line.qty), &attrs)
        .map(|_| ())
        .map_err(|e| Failure(format!("add {}: {e}", line.item)))
}
