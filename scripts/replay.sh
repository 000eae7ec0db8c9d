#!/usr/bin/env bash
# The replay of Online Retail II (issue 6) against three regions this script starts and
# stops: `scripts/replay.sh [embedded|cassandra] [cart-replay arguments...]`, e.g.
#   scripts/replay.sh embedded --lines 5000      regions replicating with --peer
#   scripts/replay.sh cassandra --lines 5000     one Cassandra datacenter per region
# CART_REPLAY_CACHE=1 puts a Redis cache (one redis-server each) in front of every region's
# store and prints the hit ratio of device reads at the end. CART_REPLAY_RAW=1 (Cassandra)
# then writes the same changes straight to the cluster (cart-replay --raw-cassandra) and
# prints the ratio of the two speeds.
# The report goes to target/replay-report.json (--report to change); exit 0 only on PASS.
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:-embedded}
shift || true
case "$store" in embedded | cassandra) ;; *) echo "replay.sh: the store is embedded or cassandra" >&2; exit 2 ;; esac
# CART_PROFILE=debug reuses the test build (CI); measurements want the default, release.
profile=${CART_PROFILE:-release}
cargo build -q --locked --profile "$([ "$profile" = debug ] && echo dev || echo "$profile")" \
  -p sync-server --bin sync-server -p replay --bin cart-replay
bin=target/$profile
export CART_TOKEN_SECRET=replay-secret-$RANDOM-$RANDOM-$RANDOM-$RANDOM
work=$(mktemp -d /tmp/cart-replay-XXXXXX)
pids=()
cleanup() {
  kill "${pids[@]}" 2> /dev/null || true
  wait "${pids[@]}" 2> /dev/null || true
  [ "$store" = cassandra ] && scripts/cassandra.sh kill "$work/cassandra"
  for name in "${regions[@]}"; do scripts/redis.sh stop "$work/redis-$name"; done
  rm -rf "$work"
}
trap cleanup EXIT

regions=(us-west eu-central ap-southeast)
ports=()
for _ in "${regions[@]}"; do ports+=("$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"); done
if [ "$store" = cassandra ]; then
  scripts/cassandra.sh fetch
  scripts/cassandra.sh init "$work/cassandra" 1:127.0.0.1:us-west 2:127.0.0.2:eu-central 3:127.0.0.3:ap-southeast
  scripts/cassandra.sh start "$work/cassandra"
fi
args=()
for i in "${!regions[@]}"; do
  name=${regions[$i]}
  url=http://127.0.0.1:${ports[$i]}
  args+=(--region "$name=$url")
  flags=(serve --region "$name" --listen "127.0.0.1:${ports[$i]}")
  if [ "$store" = cassandra ]; then
    flags+=(--store cassandra --cassandra-contact-points "127.0.0.$((i + 1)):9042" --cassandra-local-dc "$name"
      --cassandra-keyspace replay --cassandra-replication us-west:1,eu-central:1,ap-southeast:1)
  else
    flags+=(--data-dir "$work/$name")
    for j in "${!regions[@]}"; do [ "$j" = "$i" ] || flags+=(--peer "http://127.0.0.1:${ports[$j]}"); done
  fi
  if [ -n "${CART_REPLAY_CACHE:-}" ]; then
    redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    scripts/redis.sh start "$work/redis-$name" "$redis_port"
    flags+=(--cache "redis://127.0.0.1:$redis_port")
  fi
  RUST_LOG=warn "$bin/sync-server" "${flags[@]}" > "$work/$name.log" 2>&1 &
  pids+=($!)
done
for i in "${!regions[@]}"; do
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:${ports[$i]}/readyz" > /dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:${ports[$i]}/readyz" > /dev/null || { cat "$work/${regions[$i]}.log" >&2; exit 1; }
done
echo "replay on the $store store: ${regions[*]}"
status=0
"$bin/cart-replay" "${args[@]}" "$@" || status=$?
if [ -n "${CART_REPLAY_CACHE:-}" ]; then
  # The regions' cache counters, summed: the hit ratio of device reads during the replay.
  for port in "${ports[@]}"; do curl -sf "http://127.0.0.1:$port/metrics"; done | awk '
    /^cart_cache_hits_total/ { hits += $NF }
    /^cart_cache_misses_total/ { misses += $NF }
    /^cart_cache_stale_total/ { stale += $NF }
    END { total = hits + misses + stale
          printf "cache: %d reads, %d hits, %d misses, %d stale; hit ratio %.3f\n", total, hits, misses, stale, total ? hits / total : 0 }'
fi
if [ "$store" = cassandra ] && [ -n "${CART_REPLAY_RAW:-}" ]; then
  # The peer: the same changes written straight to the same cluster as the store's rows.
  raw=()
  for i in "${!regions[@]}"; do raw+=(--region "${regions[$i]}=127.0.0.$((i + 1)):9042"); done
  "$bin/cart-replay" --raw-cassandra "${raw[@]}" "$@" | tee "$work/raw.txt" || status=$?
  report=target/replay-report.json
  for ((i = 1; i <= $#; i++)); do [ "${!i}" = --report ] && { j=$((i + 1)); report=${!j}; }; done
  python3 - "$report" "$work/raw.txt" << 'PY'
import json, re, sys
served = json.load(open(sys.argv[1]))["lines_per_second"]
raw = float(re.search(r"\(([0-9.]+) lines/s\)", open(sys.argv[2]).read()).group(1))
print(f"ratio: the replay through the servers reaches {served / raw:.2f} of the raw driver's lines/s")
PY
fi
exit "$status"
