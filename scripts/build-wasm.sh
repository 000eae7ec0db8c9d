#!/usr/bin/env bash
# Builds cart-wasm into the npm package (cart-wasm/pkg): the .wasm, its JS glue and
# TypeScript declarations, next to the package's own JS. Quick when nothing changed.
#
# rustup's wasm32 target is used where it is installed; otherwise Debian's compiler
# builds the standard library for wasm32 from source (see shared/notes/toolchain.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh web

out=cart-wasm/pkg/core
# Debian's wasm-opt (binaryen 108) predates reference types: build for the MVP plus the
# features every browser of the last five years has, and nothing wasm-opt cannot read.
export RUSTFLAGS="-Ctarget-cpu=mvp -Ctarget-feature=+mutable-globals,+sign-ext,+nontrapping-fptoint,+bulk-memory"
target=target/wasm32-unknown-unknown/wasm/cart_wasm.wasm
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  cargo build --locked -q --profile wasm --target wasm32-unknown-unknown -p cart-wasm
else
  # optimize_for_size: std picks its smaller implementations (sorts, formatting).
  # -Zbuild-std needs the nightly switch on Debian's stable compiler; the shipped code
  # uses no nightly feature. Debian ships wasm-ld but not rust-lld.
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
    /usr/bin/cargo build --locked -q --profile wasm --target wasm32-unknown-unknown \
    -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size -p cart-wasm
fi

if [ ! -f "$out/cart_wasm_bg.wasm" ] || [ "$target" -nt "$out/cart_wasm_bg.wasm" ]; then
  rm -rf "$out" && mkdir -p "$out"
  # --target web: an ES module that takes the wasm bytes or a URL, so the same glue
  # serves browsers (fetch) and Node (bytes read from disk).
  wasm-bindgen --target web --out-dir "$out" "$target"
  wasm-opt -Oz --enable-mutable-globals --enable-sign-ext --enable-bulk-memory \
    --enable-nontrapping-float-to-int \
    "$out/cart_wasm_bg.wasm" -o "$out/cart_wasm_bg.wasm"
fi
wasm=$(wc -c < "$out/cart_wasm_bg.wasm")
gz=$(cat "$out/cart_wasm_bg.wasm" "$out/cart_wasm.js" | gzip -9 | wc -c)
echo "cart-wasm: $wasm bytes of wasm; wasm + glue gzipped: $gz bytes"
