#!/usr/bin/env bash
# The JavaScript side: builds the wasm package and the demo, installs the package into
# tests/ from its npm tarball (as a user would), and runs the Node and Chromium tests
# against real sync-server processes on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-web.sh
cargo build -q --locked -p sync-server --bin sync-server
(cd tests && npm install --no-save --no-audit --no-fund --loglevel=error ../target/npm/offline-cart-*.tgz)
mkdir -p target/screenshots
cd tests
# One file at a time: each starts its own regions and browser, and 2 cores are few.
node --test --test-concurrency=1 package/ browser/
