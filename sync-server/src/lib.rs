//! # sync-server: one region of the cart service
//!
//! Merges device deltas into the region's replica of each cart with cart-core's join
//! (no other merge), stores them durably, pushes changes to the shopper's other
//! devices, replicates to peer regions, and serves the REST API for clients that
//! cannot run the core.
//!
//! - [`app::app`] builds the router from an [`state::AppState`] ([`app::app_with`] adds
//!   the web demo's static files, CORS and demo tokens);
//! - [`region::Region`] is the only place that changes carts;
//! - [`store::CartStore`] is the storage trait ([`store::embedded`] by default);
//! - [`replication`] runs the sync protocol with peer regions.

pub mod app;
pub mod auth;
pub mod error;
pub mod events;
pub mod region;
pub mod replication;
pub mod routes;
pub mod state;
pub mod store;
pub mod stripes;

use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder (installed once; tests build many apps).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Everything a region needs, wired together; replication tasks are started.
///
/// # Errors
/// When the store cannot be opened.
pub fn build(
    region: &str,
    store: Arc<dyn store::CartStore>,
    peers: &[String],
    secret: &str,
) -> Result<state::AppState, error::AppError> {
    let auth = auth::Auth::new(secret).map_err(|e| error::AppError::invalid("token_secret", e))?;
    let region_token = auth.issue_region(region, 10 * 365 * 24 * 3600)?;
    let region = Arc::new(region::Region::new(region.to_owned(), store, replication::Peers::new(peers)));
    if !peers.is_empty() {
        replication::Peers::spawn(&region, region_token.clone());
    }
    let client =
        reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap_or_default();
    Ok(state::AppState {
        region,
        auth: Arc::new(auth),
        metrics: metrics_handle(),
        client,
        region_token: region_token.into(),
    })
}
