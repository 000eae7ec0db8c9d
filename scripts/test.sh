#!/usr/bin/env bash
# Every check CI runs, in order; `.ci/run` calls exactly this. Builds once into ./target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh web

step() { printf '\n=== %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "lints (clippy, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "tests"
cargo test --workspace --locked

step "scenario runner on every scenario file"
files=(cart-core/scenarios/*/*.json)
[ -d ../shared/spec/scenarios ] && files+=(../shared/spec/scenarios/*.json)
cargo run -q --locked -p cart-core --example scenario -- "${files[@]}" > target/scenarios.jsonl
echo "$(wc -l < target/scenarios.jsonl) scenario files replayed, all pass"

step "replay of Online Retail II's first 3,000 lines, embedded store (regions with peers), then Cassandra behind a Redis cache"
CART_PROFILE=debug scripts/replay.sh embedded --lines 3000 --quiet --report target/replay-embedded.json | tail -n 1
CART_PROFILE=debug CART_REPLAY_CACHE=1 scripts/replay.sh cassandra --lines 3000 --quiet --report target/replay-cassandra.json | tail -n 2

step "the npm package in Node, the demo in Chromium (real regions on loopback)"
scripts/test-js.sh

step "fuzz smoke (nightly, cargo-fuzz): ${FUZZ_SECONDS:=20} s per target"
if rustup toolchain list | grep -q '^nightly'; then
  for target in decode ops; do scripts/fuzz.sh "$target" "$FUZZ_SECONDS" 2>&1 | tail -n 3; done
else
  echo "no nightly toolchain on this machine: fuzz smoke not run" >&2
  exit 1
fi
