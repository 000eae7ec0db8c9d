//! Hostile input must not make a decoder allocate without bound. A counting allocator
//! measures the peak heap while tiny blobs that claim huge lengths are decoded.
#![allow(unsafe_code, clippy::unwrap_used, clippy::arithmetic_side_effects)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cart_core::{CartState, CausalContext, Replica};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counters are process-wide: measurements must not overlap other tests' work.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Peak heap growth while `f` runs.
fn peak_during(f: impl FnOnce()) -> usize {
    let _serial = SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - base
}

#[test]
fn absurd_lengths_are_refused_within_a_few_mebibytes() {
    let varint_max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let blobs: Vec<Vec<u8>> = vec![
        // 2^64-1 replicas.
        [b"CART\x01".as_slice(), &varint_max].concat(),
        // No replicas, 2^64-1 context entries.
        [b"CART\x01\x00".as_slice(), &varint_max].concat(),
        // No replicas, no context, no limit, 2^64-1 items.
        [b"CART\x01\x00\x00\x00".as_slice(), &varint_max].concat(),
        // One item whose id claims 2^64-1 bytes.
        [b"CART\x01\x00\x00\x00\x01".as_slice(), &varint_max].concat(),
        [b"CCTX\x01".as_slice(), &varint_max].concat(),
        [b"CREP\x01".as_slice(), &[7; 16], &[1], &varint_max].concat(),
    ];
    for blob in &blobs {
        let peak = peak_during(|| {
            assert!(CartState::from_bytes(blob).is_err());
            assert!(CausalContext::from_bytes(blob).is_err());
            assert!(Replica::from_bytes(blob).is_err());
        });
        assert!(peak < 4 << 20, "{} bytes of input made the decoder allocate {peak} bytes", blob.len());
    }
}

#[test]
fn the_counter_sees_a_large_allocation() {
    let peak = peak_during(|| drop(std::hint::black_box(vec![1_u8; 8 << 20])));
    assert!(peak >= 8 << 20, "the counting allocator missed an allocation: {peak}");
}
