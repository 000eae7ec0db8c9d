#!/usr/bin/env bash
# Assembles what a region serves with --web-root: the demo page, the catalogue drawn
# from the Online Retail II data, and the npm package (unpacked) under pkg/.
# Then packs the npm package with `npm pack` into target/npm/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-wasm.sh

web=target/web
npm_out=target/npm
rm -rf "$web/pkg" && mkdir -p "$web/pkg" "$npm_out"
cp -r cart-wasm/js/. "$web/pkg/"
cp -r cart-wasm/pkg/core "$web/pkg/core"
(cd "$web/pkg" && npm pack --silent --pack-destination "$OLDPWD/$npm_out" > /dev/null)
cp web-demo/index.html web-demo/app.js web-demo/style.css "$web/" 2>/dev/null || true
if [ ! -f "$web/catalog.json" ] || [ web-demo/build-catalog.mjs -nt "$web/catalog.json" ]; then
  node web-demo/build-catalog.mjs ../shared/data/online-retail-ii/online_retail_ii_2009_2010.csv.gz > "$web/catalog.json"
fi
echo "web root: $web (demo, catalogue, package); npm package: $(ls "$npm_out"/*.tgz)"
