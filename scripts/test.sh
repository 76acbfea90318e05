#!/usr/bin/env bash
# Runs every check of the project, as CI does: makes the servers available, then formatting,
# lints (generated code included), freshness of generated/ and schema/, and all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# A fresh SecantusDB: the end-to-end tests leave their MongoDB databases behind.
SERVICES_FRESH_MONGO=1 scripts/services.sh
if [ -x scripts/doc-tools.sh ]; then
  scripts/doc-tools.sh
fi

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== generated/ and schema/ are up to date"
cargo run -q -p codegen -- generate --check
for catalog in tests/catalogs/*/; do
  cargo run -q -p codegen -- --root "$catalog" generate --check
done
cargo run -q -p codegen -- schema --out schema --check
echo "== catalog changes since the previous commit are safe for a running system (codegen diff)"
if git rev-parse --verify --quiet 'HEAD~1^{commit}' >/dev/null 2>&1; then
  accept=()
  if [ -f catalog-changes.yaml ]; then
    accept=(--accept catalog-changes.yaml)
  fi
  cargo run -q -p codegen -- diff --against HEAD~1 "${accept[@]}"
else
  echo "skipped: HEAD~1 does not exist (a clone without history)"
fi
echo "== validator of the Kubernetes manifests; the example's binaries for the end-to-end tests"
scripts/k8s-tools.sh >/dev/null
packages=(-p order-fulfillment-saga)
for c in inventory ordering payments shipping; do
  for p in command-api command-handler event-handler query-api; do
    packages+=(-p "$c-$p")
  done
done
cargo build -q "${packages[@]}"
echo "== cargo test"
cargo test --workspace --all-features
