//! What the core costs on a 100-item cart: `cargo run --release -p cart-core --example cost`
//!
//! Prints microseconds per operation, join and sync, and encoded bytes per live item.
//! Absolute figures from one machine; the side-by-side comparison with other CRDT
//! crates comes with the benchmarks (BENCHMARKS.md).

use std::hint::black_box;
use std::time::Instant;

use cart_core::{AttrPatch, CartState, Replica};

const ITEMS: usize = 100;
const ROUNDS: u32 = 20_000;

fn per_op(label: &str, rounds: u32, mut f: impl FnMut(u32)) {
    let start = Instant::now();
    for i in 0..rounds {
        f(i);
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
    println!("{label:<52} {micros:>9.2} µs");
}

fn main() {
    let mut phone = Replica::new();
    let mut laptop = Replica::new();
    for i in 0..ITEMS {
        let patch =
            AttrPatch::new().unit_price(format!("{}.99", i % 50)).name(format!("Catalogue item number {i}"));
        let delta = phone.add(&format!("itm_{i:05}"), 1, &patch).unwrap_or_default();
        laptop.join(&delta);
    }
    let bytes = phone.state().to_bytes();
    println!(
        "synced {ITEMS}-item cart, 2 replicas: {} bytes, {:.1} bytes per item",
        bytes.len(),
        bytes.len() as f64 / ITEMS as f64
    );
    let bare = {
        let mut r = Replica::new();
        for i in 0..ITEMS {
            let _ = r.add(&format!("itm_{i:05}"), 1, &AttrPatch::new());
        }
        r.state().to_bytes().len()
    };
    println!(
        "the same cart without names and prices: {bare} bytes, {:.1} bytes per item",
        bare as f64 / ITEMS as f64
    );

    per_op("add 1 of an item in the cart, then set it to 1", ROUNDS, |i| {
        let item = format!("itm_{:05}", i as usize % ITEMS);
        black_box(phone.add(&item, 1, &AttrPatch::new()).ok());
        black_box(phone.set(&item, 1, &AttrPatch::new()).ok());
    });
    per_op("set the quantity of an item", ROUNDS, |i| {
        black_box(phone.set(&format!("itm_{:05}", i as usize % ITEMS), 2, &AttrPatch::new()).ok());
    });
    let delta = phone.add("itm_00007", 1, &AttrPatch::new()).unwrap_or_default();
    let wire = delta.to_bytes();
    println!("one add's delta on the wire: {} bytes", wire.len());
    per_op("decode and join one add's delta", ROUNDS, |_| {
        let d = CartState::from_bytes(&wire).unwrap_or_default();
        laptop.join(black_box(&d));
    });
    laptop.join(&phone.delta_since(laptop.context()));
    let in_sync = laptop.context().clone();
    per_op("delta_since for a peer that lacks nothing", ROUNDS, |_| {
        black_box(phone.delta_since(&in_sync));
    });
    let _ = phone.add("itm_00042", 1, &AttrPatch::new());
    per_op("delta_since for a peer that lacks one change", ROUNDS, |_| {
        black_box(phone.delta_since(&in_sync));
    });
    per_op("encode the whole cart", 2_000, |_| {
        black_box(phone.state().to_bytes());
    });
    let whole = phone.state().to_bytes();
    per_op("decode and check the whole cart", 2_000, |_| {
        black_box(CartState::from_bytes(&whole).ok());
    });
}
