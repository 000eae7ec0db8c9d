//! P1: the same cart workload with cart-core, `crdts` (a Map of PNCounters for quantities
//! and a Map of MVRegs for prices, 16-byte actors like cart-core's replica ids) and `automerge` (a map per item with a counter and a
//! price): operations per second, merge time, encoded bytes, and ratios against cart-core.
//!
//! The workload: the sessions of the first LINES lines (default 50,000) of Online Retail
//! II (Chen, D. (2019), UCI Machine Learning Repository, CC BY 4.0), one cart per
//! customer on two replicas that never sync while they work: a session's lines alternate
//! between them; an order empties the cart on both (each removes what it has seen); a
//! cancellation removes each line on the replica that added it. Then every cart's two
//! replicas are merged, both ways.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

#[path = "../../../replay/src/data.rs"]
#[allow(dead_code, unreachable_pub)]
mod data;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use crdts::{CmRDT, CvRDT, MVReg, Map, PNCounter};

use data::{Kind, Session};

struct Figures {
    ops: u64,
    work: Duration,
    merge: Duration,
    bytes: u64,
}

impl Figures {
    fn line(&self, name: &str, ours: Option<&Figures>) {
        let rate = self.ops as f64 / self.work.as_secs_f64();
        let ratio = ours.map_or(String::new(), |o| {
            format!(
                "   cart-core is {:.1}x faster, merges {:.1}x faster, {:.2}x the bytes",
                (o.ops as f64 / o.work.as_secs_f64()) / rate,
                self.merge.as_secs_f64() / o.merge.as_secs_f64(),
                o.bytes as f64 / self.bytes as f64
            )
        });
        println!(
            "{name:<10} {rate:>10.0} ops/s   merge {:>8.1} ms   encoded {:>9} B{ratio}",
            self.merge.as_secs_f64() * 1e3,
            self.bytes
        );
    }
}

/// The customers' sessions, in order.
fn carts(sessions: &[Session]) -> Vec<Vec<&Session>> {
    let mut by: BTreeMap<String, Vec<&Session>> = BTreeMap::new();
    for s in sessions {
        by.entry(s.user()).or_default().push(s);
    }
    by.into_values().collect()
}

fn cart_core(carts: &[Vec<&Session>]) -> Figures {
    use cart_core::{AttrPatch, Replica};
    let (mut ops, started) = (0_u64, Instant::now());
    let mut pairs: Vec<(Replica, Replica)> = Vec::new();
    for sessions in carts {
        let (mut a, mut b) = (Replica::new(), Replica::new());
        a.set_item_limit(100_000).unwrap();
        b.set_item_limit(100_000).unwrap();
        for s in sessions {
            for (i, line) in s.lines.iter().enumerate() {
                let r = if i % 2 == 0 { &mut a } else { &mut b };
                r.add(&line.item, i64::from(line.qty), &AttrPatch::new().unit_price(line.price.clone()))
                    .unwrap();
                ops += 1;
            }
            match s.kind {
                Kind::Order => {
                    a.clear().unwrap();
                    b.clear().unwrap();
                    ops += 2;
                }
                Kind::Cancelled => {
                    for (i, line) in s.lines.iter().enumerate() {
                        let r = if i % 2 == 0 { &mut a } else { &mut b };
                        r.remove(&line.item).unwrap();
                        ops += 1;
                    }
                }
            }
        }
        pairs.push((a, b));
    }
    let work = started.elapsed();
    let started = Instant::now();
    for (a, b) in &mut pairs {
        let (sa, sb) = (a.state().clone(), b.state().clone());
        a.join(&sb);
        b.join(&sa);
    }
    let merge = started.elapsed();
    let bytes = pairs.iter().map(|(a, _)| a.state().to_bytes().len() as u64).sum();
    Figures { ops, work, merge, bytes }
}

#[derive(Default, Clone, Debug, PartialEq, serde::Serialize)]
struct CrdtsCart {
    qty: Map<String, PNCounter<u128>, u128>,
    price: Map<String, MVReg<String, u128>, u128>,
}

impl CrdtsCart {
    fn add(&mut self, actor: u128, item: &str, qty: u32, price: &str) {
        let ctx = self.qty.read_ctx().derive_add_ctx(actor);
        let op = self.qty.update(item, ctx, |c, a| c.inc_many(a.dot.actor, u64::from(qty)));
        self.qty.apply(op);
        let ctx = self.price.read_ctx().derive_add_ctx(actor);
        let op = self.price.update(item, ctx, |r, c| r.write(price.to_owned(), c));
        self.price.apply(op);
    }

    fn remove(&mut self, item: &str) {
        let ctx = self.qty.get(&item.to_owned()).derive_rm_ctx();
        self.qty.apply(self.qty.rm(item, ctx));
        let ctx = self.price.get(&item.to_owned()).derive_rm_ctx();
        self.price.apply(self.price.rm(item, ctx));
    }

    fn clear(&mut self) {
        let items: Vec<String> = self.qty.keys().map(|e| e.val.to_owned()).collect();
        for item in items {
            self.remove(&item);
        }
    }
}

/// A random 16-byte actor id, from a UUID v4 as cart-core draws its replica ids.
fn actor() -> u128 {
    u128::from_le_bytes(*cart_core::ReplicaId::random().as_bytes())
}

fn crdts_maps(carts: &[Vec<&Session>]) -> Figures {
    let (mut ops, started) = (0_u64, Instant::now());
    let mut pairs: Vec<(CrdtsCart, CrdtsCart)> = Vec::new();
    for sessions in carts {
        let (mut a, mut b) = (CrdtsCart::default(), CrdtsCart::default());
        // 16-byte actors, as cart-core's replica ids (random, so no two carts share one).
        let (ida, idb) = (actor(), actor());
        for s in sessions {
            for (i, line) in s.lines.iter().enumerate() {
                if i % 2 == 0 {
                    a.add(ida, &line.item, line.qty, &line.price)
                } else {
                    b.add(idb, &line.item, line.qty, &line.price)
                }
                ops += 1;
            }
            match s.kind {
                Kind::Order => {
                    a.clear();
                    b.clear();
                    ops += 2;
                }
                Kind::Cancelled => {
                    for (i, line) in s.lines.iter().enumerate() {
                        if i % 2 == 0 {
                            a.remove(&line.item)
                        } else {
                            b.remove(&line.item)
                        }
                        ops += 1;
                    }
                }
            }
        }
        pairs.push((a, b));
    }
    let work = started.elapsed();
    let started = Instant::now();
    for (a, b) in &mut pairs {
        let (ca, cb) = (a.clone(), b.clone());
        a.qty.merge(cb.qty);
        a.price.merge(cb.price);
        b.qty.merge(ca.qty);
        b.price.merge(ca.price);
    }
    let merge = started.elapsed();
    let bytes = pairs.iter().map(|(a, _)| postcard::to_allocvec(a).unwrap().len() as u64).sum();
    Figures { ops, work, merge, bytes }
}

fn automerge_docs(carts: &[Vec<&Session>]) -> Figures {
    let (mut ops, started) = (0_u64, Instant::now());
    let mut pairs: Vec<(AutoCommit, AutoCommit)> = Vec::new();
    let add = |doc: &mut AutoCommit, item: &str, qty: u32, price: &str| match doc.get(ROOT, item).unwrap() {
        Some((_, obj)) => doc.increment(&obj, "qty", i64::from(qty)).unwrap(),
        None => {
            let obj = doc.put_object(ROOT, item, ObjType::Map).unwrap();
            doc.put(&obj, "qty", automerge::ScalarValue::counter(i64::from(qty))).unwrap();
            doc.put(&obj, "price", price).unwrap();
        }
    };
    for sessions in carts {
        let (mut a, mut b) = (AutoCommit::new(), AutoCommit::new());
        for s in sessions {
            for (i, line) in s.lines.iter().enumerate() {
                add(if i % 2 == 0 { &mut a } else { &mut b }, &line.item, line.qty, &line.price);
                ops += 1;
            }
            match s.kind {
                Kind::Order => {
                    for doc in [&mut a, &mut b] {
                        let keys: Vec<String> = doc.keys(ROOT).collect();
                        for k in keys {
                            doc.delete(ROOT, k.as_str()).unwrap();
                        }
                    }
                    ops += 2;
                }
                Kind::Cancelled => {
                    for (i, line) in s.lines.iter().enumerate() {
                        let doc = if i % 2 == 0 { &mut a } else { &mut b };
                        if doc.get(ROOT, line.item.as_str()).unwrap().is_some() {
                            doc.delete(ROOT, line.item.as_str()).unwrap();
                        }
                        ops += 1;
                    }
                }
            }
        }
        pairs.push((a, b));
    }
    let work = started.elapsed();
    let started = Instant::now();
    for (a, b) in &mut pairs {
        let mut copy = b.clone();
        a.merge(&mut copy).unwrap();
        let mut copy = a.clone();
        b.merge(&mut copy).unwrap();
    }
    let merge = started.elapsed();
    let bytes = pairs.iter_mut().map(|(a, _)| a.save().len() as u64).sum();
    Figures { ops, work, merge, bytes }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let csv = args
        .next()
        .unwrap_or_else(|| "../shared/data/online-retail-ii/online_retail_ii_2009_2010.csv.gz".into());
    let lines: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let data = data::load(std::path::Path::new(&csv), Some(lines)).unwrap();
    let carts = carts(&data.sessions);
    println!(
        "{} lines of Online Retail II: {} sessions, {} carts on two replicas each; {rounds} rounds, the median shown",
        data.lines,
        data.sessions.len(),
        carts.len()
    );
    let median = |mut runs: Vec<Figures>| {
        runs.sort_by(|x, y| x.work.cmp(&y.work));
        runs.swap_remove(runs.len() / 2)
    };
    let (mut ours, mut theirs_c, mut theirs_a) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(cart_core(&carts));
        theirs_c.push(crdts_maps(&carts));
        theirs_a.push(automerge_docs(&carts));
    }
    let ours = median(ours);
    let (crdts, automerge) = (median(theirs_c), median(theirs_a));
    ours.line("cart-core", None);
    crdts.line("crdts", Some(&ours));
    automerge.line("automerge", Some(&ours));
    // For scripts/plot.py: one object per library.
    if let Ok(path) = std::env::var("P1_JSON") {
        let json: Vec<String> = [("cart-core", &ours), ("crdts", &crdts), ("automerge", &automerge)]
            .iter()
            .map(|(name, f)| {
                format!(
                    r#"{{"name":"{name}","ops_per_s":{:.0},"merge_ms":{:.3},"bytes":{}}}"#,
                    f.ops as f64 / f.work.as_secs_f64(),
                    f.merge.as_secs_f64() * 1e3,
                    f.bytes
                )
            })
            .collect();
        std::fs::write(path, format!("[{}]\n", json.join(","))).unwrap();
    }
}
