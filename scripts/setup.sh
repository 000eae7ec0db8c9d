#!/usr/bin/env bash
# Installs what the build and tests need. Idempotent, and quick when all is there.
set -euo pipefail

# The Rust toolchain comes with the machine (rustup, stable). rustfmt and clippy are
# rustup components; add them only when missing (rustup's download host may be
# unreachable, so never on a path that does not need it).
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    timeout 300 rustup component add "$component"
  fi
done
