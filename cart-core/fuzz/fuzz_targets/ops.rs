//! Arbitrary bytes read as operations, syncs, merges and delta deliveries among three
//! replicas: after anti-entropy all must hold the same bytes, equal to the join of
//! every delta.
#![no_main]

#[path = "../../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

libfuzzer_sys::fuzz_target!(|data: &[u8]| support::checks::operations_converge(data));
