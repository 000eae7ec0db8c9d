#!/usr/bin/env bash
# The main job. Until the sync server and the demo land, it replays every scenario
# file through the cart core and prints one JSON line per file.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# cart-core/scenarios/spec/ holds the spec's files, checked against ../shared by the tests.
exec cargo run -q --release -p cart-core --example scenario -- cart-core/scenarios/*/*.json
