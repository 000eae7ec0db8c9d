//! Replays every input the fuzzers ever found (`tests/crashers/`), through the same
//! checks the fuzz targets run. A new crasher is added by copying the fuzzer's
//! artifact here: `decode-*` files go to the decoder check, `ops-*` to the
//! operations check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod support;

use std::path::Path;

#[test]
fn every_stored_crasher_is_handled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/crashers");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        if name.starts_with("decode-") {
            support::checks::decode_anything(&data);
        } else if name.starts_with("ops-") {
            support::checks::operations_converge(&data);
        } else {
            continue;
        }
        count += 1;
    }
    assert!(count > 0, "no crashers in {}", dir.display());
}
