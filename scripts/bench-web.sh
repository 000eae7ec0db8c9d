#!/usr/bin/env bash
# The WebAssembly package's benchmarks (BENCHMARKS.md, issue 4): gzipped size against
# Automerge, Loro and Yjs; one operation on a 100-item cart in Node against the same
# three, and in Chromium against a bare IndexedDB commit. Measurements, not tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-web.sh > /dev/null
cargo build -q --locked -p sync-server --bin sync-server
bench=target/bench
mkdir -p "$bench" && cp tests/bench/size.mjs tests/bench/ops.mjs "$bench/"
[ -f "$bench/package.json" ] || echo '{"private": true}' > "$bench/package.json"
(cd "$bench" && npm install --no-audit --no-fund --loglevel=error \
  @automerge/automerge@3.5.0 yjs@13.6.33 loro-crdt@1.17.1 ../npm/offline-cart-0.1.0.tgz)
(cd tests && npm install --no-save --no-audit --no-fund --loglevel=error ../target/npm/offline-cart-0.1.0.tgz)

echo "== size"
node "$bench/size.mjs" target/web/pkg "$bench/node_modules"
echo "== one operation, Node"
(cd "$bench" && node ops.mjs "${OPS:-5000}")
echo "== one operation, Chromium"
(cd tests && node bench/ops-browser.mjs "${OPS:-5000}")
