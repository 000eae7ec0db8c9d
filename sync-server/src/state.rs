//! What every handler can reach.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::Auth;
use crate::region::Region;

/// The app state: the region, the token keys, the metrics renderer. Cloned for every
/// request, so each part is shared, not copied.
#[derive(Clone)]
pub struct AppState {
    /// The region this process serves.
    pub region: Arc<Region>,
    /// Token signing and checking.
    pub auth: Arc<Auth>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// HTTP client for forwarding to the checkout home region.
    pub client: reqwest::Client,
    /// The token this region presents to peers.
    pub region_token: Arc<str>,
}
