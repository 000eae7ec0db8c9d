#!/usr/bin/env bash
# The main job: replays every scenario file through the core, builds the WebAssembly
# package and the demo page, then starts two regions (us-west on :8080, eu-central on
# :8081) that replicate with each other on the embedded store, each with a Redis cache
# in front of it (redis-server on :6380 and :6381), and serve the demo.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -q --release -p cart-core --example scenario
cargo build -q --release -p sync-server --bin sync-server
scripts/build-web.sh

echo "== scenarios (cart-core/scenarios/spec holds the spec's files, checked against ../shared by the tests)"
target/release/examples/scenario cart-core/scenarios/*/*.json | sed 's/"replicas".*//'

secret=${CART_TOKEN_SECRET:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export CART_TOKEN_SECRET=$secret
west=${WEST_PORT:-8080}
central=${CENTRAL_PORT:-8081}
mkdir -p data
west_url="http://127.0.0.1:$west"
central_url="http://127.0.0.1:$central"
cat > target/web/config.json <<EOT
{"regions": [{"name": "us-west", "url": "$west_url"}, {"name": "eu-central", "url": "$central_url"}], "user": "usr_demo"}
EOT
# The demo is a page of us-west's origin that talks to both regions: each allows both
# origins, and hands out demo tokens (a stand-in for a storefront's login; never in production).
web=(--web-root target/web --demo-tokens --allow-origin "$west_url" --allow-origin "$central_url")
# Each region reads through its own Redis cache (CART_DEMO_CACHE=0 runs without).
pids=()
stop() {
  kill "${pids[@]}" 2> /dev/null || true
  wait || true
  scripts/redis.sh stop data/redis-us-west
  scripts/redis.sh stop data/redis-eu-central
}
trap stop EXIT INT TERM
cache_west=() cache_central=()
if [ "${CART_DEMO_CACHE:-1}" != 0 ]; then
  scripts/redis.sh start data/redis-us-west "${WEST_REDIS_PORT:-6380}"
  scripts/redis.sh start data/redis-eu-central "${CENTRAL_REDIS_PORT:-6381}"
  cache_west=(--cache "redis://127.0.0.1:${WEST_REDIS_PORT:-6380}")
  cache_central=(--cache "redis://127.0.0.1:${CENTRAL_REDIS_PORT:-6381}")
fi
target/release/sync-server serve --region us-west --listen "127.0.0.1:$west" --data-dir data/us-west \
  --peer "$central_url" "${web[@]}" "${cache_west[@]}" & pids+=($!)
target/release/sync-server serve --region eu-central --listen "127.0.0.1:$central" --data-dir data/eu-central \
  --peer "$west_url" "${web[@]}" "${cache_central[@]}" & pids+=($!)
for url in "$west_url" "$central_url"; do
  for _ in $(seq 200); do curl -sf "$url/readyz" > /dev/null && break; sleep 0.1; done
done
token=$(target/release/sync-server token --user usr_12345)
cat <<EOT

Two regions are running: us-west $west_url and eu-central $central_url

  The demo (two devices, two regions, offline and back): open $west_url/ in a browser.

API document: $west_url/openapi.json; metrics: /metrics. Or with curl:

  TOKEN=$token
  curl -s -X POST http://127.0.0.1:$west/api/v1/cart/items -H "Authorization: Bearer \$TOKEN" \\
       -H 'content-type: application/json' \\
       -d '{"user_id":"usr_12345","item_id":"itm_shirt123","quantity":2,"unit_price":29.99}'
  curl -s http://127.0.0.1:$central/api/v1/cart -H "Authorization: Bearer \$TOKEN"    # replicated

Ctrl-C stops both regions; their data stays in ./data.
EOT
wait
