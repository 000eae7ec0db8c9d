#!/usr/bin/env bash
# P1 of BENCHMARKS.md: cart-core against the crdts and automerge crates on the sessions
# of Online Retail II's first LINES lines (default 50,000). `scripts/bench-core.sh [LINES] [ROUNDS]`
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release --manifest-path bench/core-compare/Cargo.toml --target-dir target/bench-core
P1_JSON=target/bench-core/p1.json target/bench-core/release/core-compare \
  ../shared/data/online-retail-ii/online_retail_ii_2009_2010.csv.gz "${1:-50000}" "${2:-3}"
mkdir -p bench/plots
scripts/plot.py p1 target/bench-core/p1.json bench/plots/p1-core.svg
echo "plot: bench/plots/p1-core.svg"
