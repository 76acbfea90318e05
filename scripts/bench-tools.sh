#!/usr/bin/env bash
# Installs what scripts/bench-build.sh compares `codegen generate` with, on a fresh Debian
# machine:
#
# - the npm packages of tools/bench/ (`@asyncapi/generator` 3.4.1 and
#   `@asyncapi/markdown-template` 2.0.0, pinned by the committed package-lock.json) into
#   tools/bench/node_modules, without install scripts (none is needed);
# - Debian `hyperfine` (process timings), when missing.
#
# The generator 3.x declares `engines: node >=24.11`; npm only warns about it and the generator
# and template run on Debian's node 20 (checked by bench-build.sh on every run). Afterwards
# everything runs offline.
#
# Idempotent (does nothing when everything is there) and safe to run concurrently (flock).
# Prints `KEY=VALUE` lines: NODE_MODULES, HYPERFINE.
#
# Environment:
#   BENCH_TOOLS_LOCK   the lock file (default /var/tmp/codegen-bench-tools.lock)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools/bench"
LOCK="${BENCH_TOOLS_LOCK:-/var/tmp/codegen-bench-tools.lock}"

die() { echo "bench-tools.sh: error: $*" >&2; exit 1; }

exec 9>"$LOCK"
flock 9

# --- hyperfine (Debian) --------------------------------------------------------------------
if ! command -v hyperfine >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "hyperfine is missing and apt-get is not available"
    echo "bench-tools.sh: installing hyperfine" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq hyperfine >&2
fi

# --- npm packages (project-local, from the lock file) ---------------------------------------
command -v node >/dev/null 2>&1 || die "node is missing (apt-get install -y nodejs npm)"
command -v npm >/dev/null 2>&1 || die "npm is missing (apt-get install -y nodejs npm)"
stamp="$TOOLS/node_modules/.installed-lock"
if ! cmp -s "$TOOLS/package-lock.json" "$stamp" 2>/dev/null; then
    echo "bench-tools.sh: installing npm packages into $TOOLS/node_modules" >&2
    (
        cd "$TOOLS"
        npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
    )
    cp "$TOOLS/package-lock.json" "$stamp"
fi

echo "NODE_MODULES=$TOOLS/node_modules"
echo "HYPERFINE=$(command -v hyperfine)"
