#!/usr/bin/env bash
# Runtime throughput and latency (issue 11): builds the example's inventory processes, the
# order-fulfillment saga and the `msgen-bench` load generator in release, runs it on the
# local servers and prints one markdown table (measure, value, baseline, ratio, target, met?),
# also written to $CARGO_TARGET_DIR/bench/results.md.
#
#   scripts/bench.sh [--quick] [--only=parts|handler|e2e|saga]
#
# --quick: small sizes (a few seconds per measure), a smoke run; --only: one phase (to profile
# it). The full size takes about 5 to 10 minutes after the build. Every run is isolated (its
# own NAME_PREFIX, PostgreSQL and MongoDB databases, removed afterwards); process logs stay in
# $CARGO_TARGET_DIR/bench/logs/.
# What each row measures: README.md, "Runtime throughput and latency".
#
# Without MONGODB_URL the bench starts a SecantusDB of its own (on disk in a fresh folder under
# $CARGO_TARGET_DIR/bench, a free port, stopped and removed at the end) instead of using the
# shared one of services.sh: SecantusDB is single-threaded and holds its global lock for the
# whole of a `dropDatabase`, which deletes key by key (here the drop of one e2e fault-loop
# database kept the shared server unresponsive for more than 20 minutes, and a bench phase
# waited behind it). A private server is neither stalled by others nor stalls them; its
# databases are thrown away with its folder instead of dropped.
#
# Environment: CARGO_TARGET_DIR (default: target/ of the repository); AMQP_URL, DATABASE_URL,
# MONGODB_URL as for scripts/services.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARGS=()
for arg in "$@"; do
    case "$arg" in
        --quick | --only=*) ARGS+=("$arg") ;;
        -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument \`$arg\` (--quick, --only=PHASE or --help)" >&2; exit 2 ;;
    esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"

bash scripts/services.sh
echo "== building the processes (release)" >&2
# `-p runtime` brings its `dev-token` binary (the bench's bearer token).
cargo build --release -q -p runtime -p inventory-command-api -p inventory-command-handler \
    -p inventory-event-handler -p inventory-query-api -p order-fulfillment-saga
# A cargo invocation of its own: built with the processes, feature unification would link
# lapin's default TLS (rustls on aws-lc) into the bench, which it does not use.
echo "== building msgen-bench (release)" >&2
cargo build --release -q -p msgen-bench
if [ -z "${MONGODB_URL:-}" ]; then
    MONGO_DIR="$CARGO_TARGET_DIR/bench/secantus-$$"
    MONGO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    rm -rf "$MONGO_DIR" && mkdir -p "$MONGO_DIR/data"
    secantusd-py --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$MONGO_DIR/data" \
        > "$MONGO_DIR/secantusd.log" 2>&1 &
    MONGO_PID=$!
    trap 'kill "$MONGO_PID" 2>/dev/null; wait "$MONGO_PID" 2>/dev/null; rm -rf "$MONGO_DIR"' EXIT
    for _ in $(seq 1 100); do
        timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MONGO_PORT" 2>/dev/null && break
        sleep 0.2
    done
    export MONGODB_URL="mongodb://127.0.0.1:$MONGO_PORT" BENCH_MONGO_DISPOSABLE=1
    echo "== private SecantusDB on port $MONGO_PORT" >&2
fi
echo "== running (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
"$CARGO_TARGET_DIR/release/msgen-bench" "${ARGS[@]}"
