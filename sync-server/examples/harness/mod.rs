//! What the load benchmarks share: a closed-loop driver and its report.

// A measuring harness, not product code: plain arithmetic on counters and latencies.
#![allow(
    dead_code,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// The outcome of one run.
pub(crate) struct Run {
    pub(crate) ok: usize,
    pub(crate) errors: usize,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) elapsed: Duration,
}

impl Run {
    /// An empty run, to gather workers' results into.
    pub(crate) fn new() -> Self {
        Self { ok: 0, errors: 0, latencies: Vec::new(), elapsed: Duration::ZERO }
    }

    /// The latency at quantile `p`, in milliseconds (latencies must be sorted).
    pub(crate) fn quantile_ms(&self, p: f64) -> f64 {
        let i = ((self.latencies.len() as f64 * p) as usize).min(self.latencies.len().saturating_sub(1));
        self.latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }

    /// Prints one line; returns operations/s and p99 in milliseconds.
    pub(crate) fn report(&mut self, label: &str) -> (f64, f64) {
        self.latencies.sort_unstable();
        let rate = self.ok as f64 / self.elapsed.as_secs_f64();
        println!(
            "{label:<44} {rate:>9.0} op/s    p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
            self.quantile_ms(0.50),
            self.quantile_ms(0.99),
            self.errors
        );
        (rate, self.quantile_ms(0.99))
    }
}

/// One operation of a client: resolves to whether it succeeded.
pub(crate) type Op = Pin<Box<dyn Future<Output = bool> + Send>>;
/// A client: makes its next operation each time it is called.
pub(crate) type Client = Box<dyn FnMut() -> Op + Send>;

/// `connections` clients, each running its operations one after another for `seconds`.
pub(crate) async fn closed_loop(seconds: u64, connections: usize, make: impl Fn(usize) -> Client) -> Run {
    let clients: Vec<Client> = (0..connections).map(make).collect();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut next| {
            tokio::spawn(async move {
                let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if next().await {
                        ok += 1;
                        latencies.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (ok, errors, latencies)
            })
        })
        .collect();
    let mut run = Run::new();
    for t in tasks {
        if let Ok((ok, errors, latencies)) = t.await {
            run.ok += ok;
            run.errors += errors;
            run.latencies.extend(latencies);
        }
    }
    run.elapsed = start.elapsed();
    run
}

/// An HTTP request as an operation: succeeded when the answer is a 2xx, read whole.
pub(crate) fn http(request: reqwest::RequestBuilder) -> Op {
    Box::pin(async move {
        match request.send().await {
            Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
            _ => false,
        }
    })
}

/// The median of some figures.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
