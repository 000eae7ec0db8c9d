#!/usr/bin/env bash
# Runs one cart-core fuzz target for a while: scripts/fuzz.sh decode|ops [SECONDS]
# Needs a nightly toolchain and cargo-fuzz (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/../cart-core"
target=${1:?usage: scripts/fuzz.sh decode|ops [seconds]}
seconds=${2:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
corpus=fuzz/corpus/$target
mkdir -p "$corpus"
# Seed the decoder with the committed golden encodings.
[ "$target" = decode ] && cp tests/golden/*.bin "$corpus"/ 2>/dev/null || true
cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048
