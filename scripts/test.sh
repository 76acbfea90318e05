#!/usr/bin/env bash
# Runs every check of the project, as CI does: makes the servers available, then formatting,
# lints (generated code included), freshness of generated/ and schema/, and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh
if [ -x scripts/doc-tools.sh ]; then
  scripts/doc-tools.sh
fi

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== generated/ and schema/ are up to date"
cargo run -q -p codegen -- generate --check
cargo run -q -p codegen -- schema --out schema --check
echo "== cargo test"
cargo test --workspace --all-features
