#!/usr/bin/env bash
# P5 of BENCHMARKS.md: the replay, release build, on the embedded store (LINES, default the
# whole file) and on Cassandra behind a Redis cache (CASSANDRA_LINES, default the whole
# file; about 40 minutes), then the same changes written straight to Cassandra (the peer),
# with a plot of latency over each replay in bench/plots/.
# `scripts/bench-replay.sh [LINES] [CASSANDRA_LINES]` ("" for the whole file)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/plots target/bench-replay
lines=() cassandra_lines=()
[ -n "${1:-}" ] && lines=(--lines "$1")
[ -n "${2:-}" ] && cassandra_lines=(--lines "$2")
scripts/replay.sh embedded "${lines[@]}" --quiet --report target/bench-replay/embedded.json | tail -n 1
scripts/plot.py replay target/bench-replay/embedded.json bench/plots/replay-embedded.svg \
  "Replay on the embedded store (three regions with peers)"
CART_REPLAY_CACHE=1 CART_REPLAY_RAW=1 scripts/replay.sh cassandra "${cassandra_lines[@]}" --quiet \
  --report target/bench-replay/cassandra.json | grep -E '^(PASS|FAIL|cache|RAW|ratio)'
scripts/plot.py replay target/bench-replay/cassandra.json bench/plots/replay-cassandra.svg \
  "Replay on Cassandra behind Redis (three datacenters)"
echo "plots: bench/plots/replay-embedded.svg bench/plots/replay-cassandra.svg"
