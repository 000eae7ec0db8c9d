#!/usr/bin/env bash
# The main job: replays every scenario file through the core, then starts two regions
# (us-west on :8080, eu-central on :8081) that replicate with each other on the
# embedded store, and prints how to reach them. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -q --release -p cart-core --example scenario
cargo build -q --release -p sync-server --bin sync-server

echo "== scenarios (cart-core/scenarios/spec holds the spec's files, checked against ../shared by the tests)"
target/release/examples/scenario cart-core/scenarios/*/*.json | sed 's/"replicas".*//'

secret=${CART_TOKEN_SECRET:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
export CART_TOKEN_SECRET=$secret
west=${WEST_PORT:-8080}
central=${CENTRAL_PORT:-8081}
mkdir -p data
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
target/release/sync-server serve --region us-west --listen "127.0.0.1:$west" --data-dir data/us-west \
  --peer "http://127.0.0.1:$central" & pids+=($!)
target/release/sync-server serve --region eu-central --listen "127.0.0.1:$central" --data-dir data/eu-central \
  --peer "http://127.0.0.1:$west" & pids+=($!)
sleep 1
token=$(target/release/sync-server token --user usr_12345)
cat <<EOT

Two regions are running: us-west http://127.0.0.1:$west and eu-central http://127.0.0.1:$central
(API document: http://127.0.0.1:$west/openapi.json; metrics: /metrics). Try:

  TOKEN=$token
  curl -s -X POST http://127.0.0.1:$west/api/v1/cart/items -H "Authorization: Bearer \$TOKEN" \\
       -H 'content-type: application/json' \\
       -d '{"user_id":"usr_12345","item_id":"itm_shirt123","quantity":2,"unit_price":29.99}'
  curl -s http://127.0.0.1:$central/api/v1/cart -H "Authorization: Bearer \$TOKEN"    # replicated

Ctrl-C stops both regions; their data stays in ./data.
EOT
wait
