#!/usr/bin/env bash
# The Redis cache's benchmark (BENCHMARKS.md, issue 7): a Redis and one Cassandra node on
# loopback, then sync-server's `cache_read` example: reads straight from the store, cache
# hits and cache misses, side by side, on the embedded store and on Cassandra.
# `scripts/bench-cache.sh [READS]`
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -q --release --locked -p sync-server --example cache_read
run=$(mktemp -d /tmp/cache-bench-XXXXXX)
trap 'scripts/redis.sh stop "$run/redis"; scripts/cassandra.sh kill "$run/cassandra"; rm -rf "$run"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/redis.sh start "$run/redis" "$port"
scripts/cassandra.sh init "$run/cassandra" 1:127.0.0.1:us-west
scripts/cassandra.sh start "$run/cassandra"
CART_BENCH_NODES=127.0.0.1:9042 target/release/examples/cache_read "redis://127.0.0.1:$port" "${1:-5000}"
