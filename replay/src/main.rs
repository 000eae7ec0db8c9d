//! `cart-replay`: a year of a real online retailer's shopping (Online Retail II: Chen, D.
//! (2019), UCI Machine Learning Repository, CC BY 4.0) driven through running regions over
//! HTTP, like a fleet of devices; every order and every cart checked at the end. See
//! `--help` and the README.
//!
//! - Each invoice is a session of its customer (a guest when it has none): the shopper's
//!   device adds each positive line in file order, syncing after each, then checks out
//!   with the invoice number as the idempotency key.
//! - A cancellation invoice (`C…`) is a session that adds its lines and removes them.
//! - Other negative lines (stock and debt adjustments) are skipped and counted by reason.
//! - Customers are homed in a region by country; a seeded tenth of them also shop on a
//!   second device homed in another region, the session's lines alternating between the
//!   two, so one cart is edited from two regions at once.

mod data;
mod fleet;
mod raw;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use rust_decimal::Decimal;

use data::{Kind, Session};
use fleet::{Device, Failure, Fleet, Region, Timings};

#[derive(Parser)]
#[command(version, about = "Replays Online Retail II through the regions and checks every order and cart")]
struct Cli {
    /// The Online Retail II CSV (gzipped as shipped).
    #[arg(long, default_value = "../shared/data/online-retail-ii/online_retail_ii_2009_2010.csv.gz")]
    csv: PathBuf,
    /// A region as NAME=URL; repeat for each (two at least).
    #[arg(long = "region", required = true, value_parser = parse_region)]
    regions: Vec<Region>,
    /// The secret the regions sign tokens with.
    #[arg(long, env = "CART_TOKEN_SECRET")]
    token_secret: String,
    /// Replay only the first N lines of the file.
    #[arg(long)]
    lines: Option<u64>,
    /// Customers served at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seed that picks the tenth of customers with a second device.
    #[arg(long, default_value_t = 2009)]
    seed: u64,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/replay-report.json")]
    report: PathBuf,
    /// No progress bar (logs, CI).
    #[arg(long)]
    quiet: bool,
    /// The peer of the Cassandra replay: each --region is NAME=HOST:PORT of that region's
    /// Cassandra node, and the same changes are written straight to it as the store's rows
    /// (no server, nothing checked); prints lines/s.
    #[arg(long)]
    raw_cassandra: bool,
}

fn parse_region(text: &str) -> Result<Region, String> {
    let (name, url) =
        text.split_once('=').ok_or("a region is NAME=URL, e.g. us-west=http://127.0.0.1:8080")?;
    Ok(Region { name: name.to_owned(), url: url.trim_end_matches('/').to_owned() })
}

/// Whether a customer also shops on a second device: a seeded tenth of them.
fn two_devices(user: &str, seed: u64) -> bool {
    // FNV-1a over the seed and the user id: stable across runs and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.to_le_bytes().iter().chain(user.as_bytes()) {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash.is_multiple_of(10)
}

/// What the run found, printed and written as JSON.
#[derive(Default, serde::Serialize)]
struct Report {
    source: &'static str,
    lines_read: u64,
    lines_replayed: u64,
    skipped: BTreeMap<String, u64>,
    sessions: u64,
    orders: u64,
    orders_matching_their_invoice: u64,
    order_mismatches: Vec<String>,
    cancellations: u64,
    customers: u64,
    customers_with_two_devices: u64,
    carts_checked: u64,
    carts_identical_in_every_region: u64,
    cart_mismatches: Vec<String>,
    errors: BTreeMap<String, u64>,
    retried_requests: u64,
    seconds: f64,
    lines_per_second: f64,
    sync_p50_ms: f64,
    sync_p99_ms: f64,
    checkout_p50_ms: f64,
    checkout_p99_ms: f64,
    /// Per second of the replay: requests, and sync and checkout latencies.
    timeline: Vec<Second>,
    passed: bool,
}

/// One second of the replay.
#[derive(Default, serde::Serialize)]
struct Second {
    second: u32,
    syncs: u64,
    sync_p50_ms: f64,
    sync_p99_ms: f64,
    checkouts: u64,
    checkout_p50_ms: f64,
    checkout_p99_ms: f64,
}

/// The p50 and p99 of some latencies (microseconds), in milliseconds.
fn quantiles(v: &mut [u64]) -> (f64, f64) {
    v.sort_unstable();
    let at = |p: f64| {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let i = ((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1));
        #[allow(clippy::cast_precision_loss)]
        v.get(i).map_or(0.0, |m| *m as f64 / 1000.0)
    };
    (at(0.5), at(0.99))
}

/// Buckets (second, latency) samples of syncs and checkouts into one row per second.
fn timeline(syncs: &[(u32, u64)], checkouts: &[(u32, u64)]) -> Vec<Second> {
    let mut by: BTreeMap<u32, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for (second, micros) in syncs {
        by.entry(*second).or_default().0.push(*micros);
    }
    for (second, micros) in checkouts {
        by.entry(*second).or_default().1.push(*micros);
    }
    by.into_iter()
        .map(|(second, (mut s, mut c))| {
            let ((sync_p50_ms, sync_p99_ms), (checkout_p50_ms, checkout_p99_ms)) =
                (quantiles(&mut s), quantiles(&mut c));
            Second {
                second,
                syncs: s.len() as u64,
                sync_p50_ms,
                sync_p99_ms,
                checkouts: c.len() as u64,
                checkout_p50_ms,
                checkout_p99_ms,
            }
        })
        .collect()
}

/// One customer's devices.
struct Shopper {
    user: String,
    devices: Vec<Device>,
}

#[derive(Default)]
struct Tally {
    report: Report,
    sync: Timings,
    checkout: Timings,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<bool, String> {
    if cli.regions.len() < 2 {
        return Err("--region: name two regions at least".into());
    }
    let data = data::load(&cli.csv, cli.lines)?;
    let limit = i64::try_from(data.max_item_qty.max(999)).unwrap_or(i64::MAX);
    let region_index: HashMap<&str, usize> =
        cli.regions.iter().enumerate().map(|(i, r)| (r.name.as_str(), i)).collect();
    let by_user = by_customer(data.sessions);
    if cli.raw_cassandra {
        return run_raw(&cli, by_user, &region_index, limit).await;
    }
    let fleet = Arc::new(Fleet::new(cli.regions.clone(), &cli.token_secret, cli.concurrency)?);
    let tally = Arc::new(Mutex::new(Tally::default()));
    {
        let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
        t.report.source = "Online Retail II, Chen, D. (2019), UCI Machine Learning Repository, CC BY 4.0";
        t.report.lines_read = data.lines;
        t.report.skipped = data.skipped;
        t.report.customers = by_user.len() as u64;
    }
    let total_lines: u64 = by_user.iter().flat_map(|(_, s)| s).map(|s| s.lines.len() as u64).sum();
    let bar =
        if cli.quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(total_lines) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} lines {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = *fleet::STARTED.get_or_init(Instant::now);
    let shoppers = futures_util::stream::iter(by_user.into_iter().map(|(user, sessions)| {
        let (fleet, tally, bar, index) =
            (Arc::clone(&fleet), Arc::clone(&tally), bar.clone(), region_index.clone());
        let seed = cli.seed;
        async move {
            let home = sessions.first().map(|s| data::home_region(&s.country)).unwrap_or("us-west");
            let home = index.get(home).copied().unwrap_or(0);
            let outcome =
                shop(&fleet, &tally, &bar, &user, home, two_devices(&user, seed), limit, sessions).await;
            let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
            match outcome {
                Ok(shopper) => Some(shopper),
                Err(Failure(why)) => {
                    let kind = why.split(':').next().unwrap_or("error").to_owned();
                    let count = t.report.errors.entry(kind).or_default();
                    *count = count.saturating_add(1);
                    if t.report.errors.values().sum::<u64>() <= 20 {
                        bar.println(format!("{user}: {why}"));
                    }
                    bar.set_message(format!("errors {}", t.report.errors.values().sum::<u64>()));
                    None
                }
            }
        }
    }))
    .buffer_unordered(cli.concurrency.max(1))
    .collect::<Vec<_>>()
    .await;
    bar.finish_and_clear();
    let replay_time = started.elapsed();

    // Every cart byte-identical in every region (replication given time to finish).
    for mut shopper in shoppers.into_iter().flatten() {
        let identical = identical_everywhere(&fleet, &mut shopper).await;
        let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
        t.report.carts_checked = t.report.carts_checked.saturating_add(1);
        match identical {
            Ok(()) => {
                t.report.carts_identical_in_every_region =
                    t.report.carts_identical_in_every_region.saturating_add(1)
            }
            Err(Failure(why)) => t.report.cart_mismatches.push(format!("{}: {why}", shopper.user)),
        }
    }
    let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
    let (sync_p50, sync_p99) = quantiles(&mut t.sync.micros);
    let (co_p50, co_p99) = quantiles(&mut t.checkout.micros);
    let retried = t.sync.retried.saturating_add(t.checkout.retried);
    let rows = timeline(&t.sync.timeline, &t.checkout.timeline);
    let r = &mut t.report;
    r.timeline = rows;
    r.seconds = replay_time.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let replayed = r.lines_replayed as f64;
    r.lines_per_second = replayed / r.seconds.max(1e-9);
    (r.sync_p50_ms, r.sync_p99_ms, r.checkout_p50_ms, r.checkout_p99_ms) =
        (sync_p50, sync_p99, co_p50, co_p99);
    r.retried_requests = retried;
    r.passed = r.errors.is_empty()
        && r.order_mismatches.is_empty()
        && r.cart_mismatches.is_empty()
        && r.orders == r.orders_matching_their_invoice
        && r.carts_checked == r.carts_identical_in_every_region;
    let json = serde_json::to_string_pretty(&*r).map_err(|e| e.to_string())?;
    if let Some(dir) = cli.report.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&cli.report, &json).map_err(|e| format!("--report {}: {e}", cli.report.display()))?;
    println!("{json}");
    println!(
        "{}: {} lines in {:.1} s ({:.0} lines/s); {} orders, {} match their invoice; {} carts, {} identical in every region; {} errors",
        if r.passed { "PASS" } else { "FAIL" },
        r.lines_replayed,
        r.seconds,
        r.lines_per_second,
        r.orders,
        r.orders_matching_their_invoice,
        r.carts_checked,
        r.carts_identical_in_every_region,
        r.errors.values().sum::<u64>()
    );
    Ok(r.passed)
}

/// Sessions by customer, each customer's in file order (customers run concurrently).
fn by_customer(sessions: Vec<Session>) -> Vec<(String, Vec<Session>)> {
    let mut by_user: Vec<(String, Vec<Session>)> = Vec::new();
    let mut slot: HashMap<String, usize> = HashMap::new();
    for session in sessions {
        let user = session.user();
        let i = *slot.entry(user.clone()).or_insert_with(|| {
            by_user.push((user.clone(), Vec::new()));
            by_user.len().saturating_sub(1)
        });
        if let Some((_, sessions)) = by_user.get_mut(i) {
            sessions.push(session);
        }
    }
    by_user
}

/// The replay's writes straight to Cassandra (see [`raw`]): prints lines/s and latencies.
async fn run_raw(
    cli: &Cli,
    by_user: Vec<(String, Vec<Session>)>,
    index: &HashMap<&str, usize>,
    limit: i64,
) -> Result<bool, String> {
    let raw = raw::Raw::connect(&cli.regions).await?;
    let started = *fleet::STARTED.get_or_init(Instant::now);
    let outcomes = futures_util::stream::iter(by_user.into_iter().map(|(user, sessions)| {
        let raw = &raw;
        async move {
            let home = sessions.first().map(|s| data::home_region(&s.country)).unwrap_or("us-west");
            let home = index.get(home).copied().unwrap_or(0);
            let (mut rows, mut checkouts) = (Timings::default(), Timings::default());
            let second = two_devices(&user, cli.seed);
            let lines = raw.shop(&user, home, second, limit, sessions, &mut rows, &mut checkouts).await;
            (lines, rows, checkouts)
        }
    }))
    .buffer_unordered(cli.concurrency.max(1))
    .collect::<Vec<_>>()
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let (mut lines, mut errors) = (0_u64, Vec::new());
    let (mut rows, mut checkouts) = (Vec::new(), Vec::new());
    for (outcome, r, c) in outcomes {
        match outcome {
            Ok(n) => lines = lines.saturating_add(n),
            Err(Failure(why)) => errors.push(why),
        }
        rows.extend(r.micros);
        checkouts.extend(c.micros);
    }
    let ((row_p50, row_p99), (co_p50, co_p99)) = (quantiles(&mut rows), quantiles(&mut checkouts));
    #[allow(clippy::cast_precision_loss)]
    let rate = lines as f64 / seconds.max(1e-9);
    println!(
        "RAW: {lines} lines in {seconds:.1} s ({rate:.0} lines/s) written straight to Cassandra; row write p50 \
         {row_p50:.1} ms, p99 {row_p99:.1} ms; checkout (order key LWT + row) p50 {co_p50:.1} ms, p99 {co_p99:.1} ms; \
         {} errors",
        errors.len()
    );
    for why in errors.iter().take(5) {
        eprintln!("{why}");
    }
    Ok(errors.is_empty())
}

/// One customer's sessions, in order.
#[allow(clippy::too_many_arguments)]
async fn shop(
    fleet: &Fleet,
    tally: &Mutex<Tally>,
    bar: &indicatif::ProgressBar,
    user: &str,
    home: usize,
    second: bool,
    limit: i64,
    sessions: Vec<Session>,
) -> Result<Shopper, Failure> {
    let mut devices = vec![fleet.device(user, home).map_err(Failure)?];
    if second {
        let away = home.saturating_add(1).checked_rem(fleet.regions.len()).unwrap_or_default();
        devices.push(fleet.device(user, away).map_err(Failure)?);
    }
    let mut timings = Timings::default();
    // The data's largest quantity of one item must fit under the cart's limit.
    if let Some(first) = devices.first_mut() {
        first.replica.set_item_limit(limit).map_err(|e| Failure(format!("limit: {e}")))?;
        fleet.sync(user, first, &mut timings).await?;
    }
    for session in sessions {
        let added = session_lines(fleet, user, &mut devices, &session, &mut timings).await?;
        bar.inc(added);
        let mut outcome = None;
        if session.kind == Kind::Order {
            let others: Vec<_> = devices.iter().skip(1).map(|d| d.replica.context().clone()).collect();
            let Some(first) = devices.first_mut() else { continue };
            fleet.catch_up(user, first, &others, &mut timings).await?;
            let mut checkout = Timings::default();
            let order = fleet.checkout(user, first.region, &session.invoice, &mut checkout).await?;
            outcome = Some((order_matches(&session, &order), checkout));
        }
        let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
        t.report.sessions = t.report.sessions.saturating_add(1);
        t.report.lines_replayed = t.report.lines_replayed.saturating_add(added);
        match (&session.kind, outcome) {
            (Kind::Cancelled, _) => t.report.cancellations = t.report.cancellations.saturating_add(1),
            (Kind::Order, Some((matches, checkout))) => {
                t.report.orders = t.report.orders.saturating_add(1);
                match matches {
                    Ok(()) => {
                        t.report.orders_matching_their_invoice =
                            t.report.orders_matching_their_invoice.saturating_add(1)
                    }
                    Err(why) => t.report.order_mismatches.push(format!("{}: {why}", session.invoice)),
                }
                t.checkout.micros.extend(checkout.micros);
                t.checkout.timeline.extend(checkout.timeline);
                t.checkout.retried = t.checkout.retried.saturating_add(checkout.retried);
            }
            (Kind::Order, None) => {}
        }
    }
    let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
    t.sync.micros.append(&mut timings.micros);
    t.sync.timeline.append(&mut timings.timeline);
    t.sync.retried = t.sync.retried.saturating_add(timings.retried);
    if second {
        t.report.customers_with_two_devices = t.report.customers_with_two_devices.saturating_add(1);
    }
    Ok(Shopper { user: user.to_owned(), devices })
}

/// Adds the session's lines, alternating between the devices, each syncing after each
/// change; a cancellation's lines are then removed, each by the device that added it.
async fn session_lines(
    fleet: &Fleet,
    user: &str,
    devices: &mut [Device],
    session: &Session,
    timings: &mut Timings,
) -> Result<u64, Failure> {
    let n = devices.len().max(1);
    for (i, line) in session.lines.iter().enumerate() {
        let Some(device) = devices.get_mut(i.checked_rem(n).unwrap_or_default()) else { continue };
        fleet::add_line(device, line)?;
        fleet.sync(user, device, timings).await?;
    }
    if session.kind == Kind::Cancelled {
        for (i, line) in session.lines.iter().enumerate() {
            let Some(device) = devices.get_mut(i.checked_rem(n).unwrap_or_default()) else { continue };
            if device.replica.state().quantity(&line.item) > 0 {
                device.replica.remove(&line.item).map_err(|e| Failure(format!("remove: {e}")))?;
                fleet.sync(user, device, timings).await?;
            }
        }
    }
    for device in devices.iter_mut() {
        fleet.sync(user, device, timings).await?;
    }
    Ok(session.lines.len() as u64)
}

/// The order equals the invoice's lines summed per item, with exact decimal totals.
fn order_matches(session: &Session, order: &serde_json::Value) -> Result<(), String> {
    let (expected, total) = session.expected_order();
    let lines = order["items"].as_array().ok_or("the order has no items")?;
    let mut got: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    for line in lines {
        let item = line["item_id"].as_str().unwrap_or_default().to_owned();
        let qty = line["quantity"].as_u64().unwrap_or_default();
        let price: Decimal =
            line["unit_price"].as_str().unwrap_or("0").parse().map_err(|_| "a price is not a decimal")?;
        got.insert(item, (qty, price));
    }
    if got != expected {
        return Err(format!("items {got:?} differ from the invoice's {expected:?}"));
    }
    let order_total: Decimal = order["total"].as_str().unwrap_or_default().parse().map_err(|_| "no total")?;
    if order_total != total {
        return Err(format!("total {order_total} differs from the invoice's {total}"));
    }
    Ok(())
}

/// Every region holds the shopper's cart byte for byte the same, and so do its devices.
async fn identical_everywhere(fleet: &Fleet, shopper: &mut Shopper) -> Result<(), Failure> {
    let started = Instant::now();
    let mut timings = Timings::default();
    loop {
        let mut carts = Vec::new();
        for region in 0..fleet.regions.len() {
            carts.push(fleet.cart_at(&shopper.user, region).await?.to_bytes());
        }
        for device in &mut shopper.devices {
            fleet.sync(&shopper.user, device, &mut timings).await?;
            carts.push(device.replica.state().to_bytes());
        }
        let first = carts.first().cloned().unwrap_or_default();
        if carts.iter().all(|c| *c == first) {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err(Failure("regions and devices hold different bytes after 60 s".into()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
