#!/usr/bin/env bash
# The Cassandra store's benchmark (BENCHMARKS.md, issue 5): starts a three-datacenter
# cluster on loopback, runs sync-server's `cassandra_load` example against it (the store
# against raw driver writes of the same rows, then the replication lag), and stops the
# cluster, also on failure. Arguments go to the example: SECONDS CONNECTIONS ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/cassandra.sh fetch
cargo build -q --release --locked -p sync-server --example cassandra_load
run=$(mktemp -d /tmp/cassandra-bench-XXXXXX)
trap 'scripts/cassandra.sh kill "$run"; rm -rf "$run"' EXIT
scripts/cassandra.sh init "$run" 1:127.0.0.1:us-west 2:127.0.0.2:eu-central 3:127.0.0.3:ap-southeast
scripts/cassandra.sh start "$run"
CART_BENCH_NODES=127.0.0.1:9042,127.0.0.2:9042 target/release/examples/cassandra_load "$@"
