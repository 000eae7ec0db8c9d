#!/usr/bin/env bash
# Installs what the build and tests need. Idempotent, and quick when all is there.
#   scripts/setup.sh       the Rust toolchain's components (native builds), and Cassandra's jars
#   scripts/setup.sh web   also the WebAssembly toolchain, Chromium and the npm packages
set -euo pipefail
cd "$(dirname "$0")/.."

# The Rust toolchain comes with the machine (rustup, stable). rustfmt and clippy are
# rustup components; add them only when missing (rustup's download host may be
# unreachable, so never on a path that does not need it).
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    timeout 300 rustup component add "$component"
  fi
done

# Apache Cassandra for the store tests: Java 17, Maven, and the server's jars from
# Maven Central, cached outside the checkout (scripts/cassandra/README.md).
scripts/cassandra.sh fetch
# Network namespaces for the partition test (scripts/netns.sh), and
# Redis for the regional cache (scripts/redis.sh), Debian's redis-server.
apt=()
command -v ip > /dev/null || apt+=(iproute2)
command -v redis-server > /dev/null || apt+=(redis-server)
if [ ${#apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${apt[@]}" \
    || { apt-get update -q && apt-get install -y -q --no-install-recommends "${apt[@]}"; }
fi

[ "${1:-}" = web ] || exit 0

# Debian's packages: a compiler and std source for wasm32 (used when rustup has no
# wasm32 target), wasm-ld, wasm-opt, and the browser the tests drive.
missing=()
{ [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ]; } || missing+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || missing+=(rust-web-src)
command -v wasm-ld > /dev/null || missing+=(lld)
command -v wasm-opt > /dev/null || missing+=(binaryen)
command -v chromium > /dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The wasm-bindgen CLI must be the exact version of the crate in Cargo.lock.
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $want" ]; then
  # Not --locked: the registry here lacks one of its locked dependencies.
  cargo install -q wasm-bindgen-cli --version "$want"
fi

# npm packages of the JS tests (playwright-core drives Debian's Chromium; it downloads no browser).
if [ ! -d tests/node_modules ] || [ tests/package-lock.json -nt tests/node_modules ]; then
  (cd tests && npm ci --no-audit --no-fund --loglevel=error)
fi
