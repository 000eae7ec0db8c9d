#!/usr/bin/env bash
# P5 of BENCHMARKS.md: the replay, release build, on the embedded store (LINES, default the
# whole file) and on Cassandra (CASSANDRA_LINES, default 50,000), with a plot of latency
# over each replay in bench/plots/. `scripts/bench-replay.sh [LINES] [CASSANDRA_LINES]`
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/plots target/bench-replay
lines=()
[ -n "${1:-}" ] && lines=(--lines "$1")
scripts/replay.sh embedded "${lines[@]}" --quiet --report target/bench-replay/embedded.json | tail -n 1
scripts/plot.py replay target/bench-replay/embedded.json bench/plots/replay-embedded.svg \
  "Replay on the embedded store (three regions with peers)"
scripts/replay.sh cassandra --lines "${2:-50000}" --quiet --report target/bench-replay/cassandra.json | tail -n 1
scripts/plot.py replay target/bench-replay/cassandra.json bench/plots/replay-cassandra.svg \
  "Replay on Cassandra (three datacenters)"
echo "plots: bench/plots/replay-embedded.svg bench/plots/replay-cassandra.svg"
