//! Every decoder on arbitrary bytes: errors are fine, panics and non-canonical
//! round trips are not. The checks live in `tests/support/checks.rs`, shared with the
//! test that replays stored crashers.
#![no_main]

#[path = "../../tests/support/mod.rs"]
#[allow(dead_code)]
mod support;

libfuzzer_sys::fuzz_target!(|data: &[u8]| support::checks::decode_anything(data));
