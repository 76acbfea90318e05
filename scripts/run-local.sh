#!/usr/bin/env bash
# Runs the generated example system on this machine: every process of generated/crates/ as a
# separate OS process against local RabbitMQ, PostgreSQL and a MongoDB-protocol server, with
# one shared configuration, each log line prefixed with its process name. Ctrl-C (or SIGTERM)
# stops them all: SIGTERM to each process, a bounded wait for their graceful shutdown, then
# SIGKILL for any left. If one process exits on its own, the others are stopped too.
#
# The processes apply what they need themselves at start: each command handler runs the
# PostgreSQL migrations, and every process that talks to RabbitMQ declares the topology
# (idempotently); event handlers and Query APIs create their MongoDB indexes, sagas theirs.
#
# Usage: scripts/run-local.sh [--no-build] [process ...]   (default: every process)
#
# Environment (all optional):
#   LOCAL_DB          PostgreSQL database, created when missing (default msgen_local)
#   MONGODB_DATABASE  MongoDB database (default msgen_local)
#   JWT_HS256_SECRET  HS256 key of the APIs (default dev-secret-change-me; local use only)
#   LOG_FORMAT        text or json (default text)
#   NAME_PREFIX       prefix of every RabbitMQ name (default none)
#   AMQP_URL, MONGODB_URL, PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres)
#   STOP_TIMEOUT      seconds to wait for a graceful stop before SIGKILL (default 35)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

build=1
selected=()
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-local.sh: unknown option $arg" >&2; exit 2 ;;
        *) selected+=("$arg") ;;
    esac
done

# --- the processes: every generated process and saga crate -----------------------------------
all=()
for dir in generated/crates/*/; do
    name="$(basename "$dir")"
    case "$name" in
        *-command-api|*-command-handler|*-event-handler|*-query-api|*-saga) all+=("$name") ;;
    esac
done
[ "${#all[@]}" -gt 0 ] || { echo "run-local.sh: no process crates under generated/crates (run: cargo run -p codegen -- generate)" >&2; exit 1; }
if [ "${#selected[@]}" -eq 0 ]; then
    procs=("${all[@]}")
else
    for p in "${selected[@]}"; do
        printf '%s\n' "${all[@]}" | grep -qx "$p" || { echo "run-local.sh: unknown process $p (one of: ${all[*]})" >&2; exit 2; }
    done
    procs=("${selected[@]}")
fi

# --- servers and configuration ---------------------------------------------------------------
scripts/services.sh

LOCAL_DB="${LOCAL_DB:-msgen_local}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
[[ "$LOCAL_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "run-local.sh: LOCAL_DB must be a lower-case identifier" >&2; exit 2; }
if [ "$(psql "$PG_ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$LOCAL_DB'")" != 1 ]; then
    echo "run-local.sh: creating PostgreSQL database $LOCAL_DB"
    psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $LOCAL_DB" >/dev/null
fi
export DATABASE_URL="${PG_ADMIN_URL%/*}/$LOCAL_DB"
export AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export MONGODB_URL="${MONGODB_URL:-mongodb://127.0.0.1:27017}"
export MONGODB_DATABASE="${MONGODB_DATABASE:-msgen_local}"
export JWT_HS256_SECRET="${JWT_HS256_SECRET:-dev-secret-change-me}"
export LOG_FORMAT="${LOG_FORMAT:-text}"
export NAME_PREFIX="${NAME_PREFIX:-}"
STOP_TIMEOUT="${STOP_TIMEOUT:-35}"

# --- build -----------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
    args=()
    for p in "${procs[@]}"; do args+=(-p "$p"); done
    echo "run-local.sh: building ${#procs[@]} processes"
    cargo build -q "${args[@]}"
    cargo build -q -p runtime --features auth --bin dev-token
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# --- run -------------------------------------------------------------------------------------
width=0
for p in "${procs[@]}"; do [ "${#p}" -gt "$width" ] && width="${#p}"; done
pids=()
names=()
stopping=0

stop_all() {
    [ "$stopping" = 1 ] && return
    stopping=1
    trap '' INT TERM
    echo "run-local.sh: stopping ${#pids[@]} processes"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    local deadline=$((SECONDS + STOP_TIMEOUT))
    for i in "${!pids[@]}"; do
        while kill -0 "${pids[$i]}" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "run-local.sh: ${names[$i]} did not stop in ${STOP_TIMEOUT}s; killing it"
            kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
        wait "${pids[$i]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    echo "run-local.sh: all processes stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

for p in "${procs[@]}"; do
    bin="$TARGET_DIR/debug/$p"
    [ -x "$bin" ] || { echo "run-local.sh: $bin is missing (run without --no-build)" >&2; stop_all; exit 1; }
    label="$(printf "%-${width}s" "$p")"
    # the process's own pid in $!, its output through a prefixing filter
    # (the filter ignores SIGINT so that it still prints the shutdown logs after a Ctrl-C)
    "$bin" > >(trap '' INT; exec sed -u "s|^|$label \| |") 2>&1 &
    pids+=("$!")
    names+=("$p")
done

echo "run-local.sh: started ${#pids[@]} processes; waiting until they are ready"
deadline=$((SECONDS + 90))
pending=("${procs[@]}")
while [ "${#pending[@]}" -gt 0 ] && [ "$SECONDS" -lt "$deadline" ]; do
    next=()
    for p in "${pending[@]}"; do
        port="$(grep -ho 'default_http_addr: "127.0.0.1:[0-9]*"' "generated/crates/$p/src/"*.rs | head -1 | grep -o '[0-9]*"$' | tr -d '"')"
        if [ -z "$port" ] || ! curl -fs -o /dev/null "http://127.0.0.1:$port/health/ready"; then next+=("$p"); fi
    done
    pending=("${next[@]+"${next[@]}"}")
    for i in "${!pids[@]}"; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            echo "run-local.sh: ${names[$i]} exited during startup"
            stop_all; exit 1
        fi
    done
    [ "${#pending[@]}" -gt 0 ] && sleep 0.5
done
if [ "${#pending[@]}" -gt 0 ]; then
    echo "run-local.sh: not ready after 90s: ${pending[*]} (still running; see their logs)"
else
    cat <<EOF
run-local.sh: all ${#procs[@]} processes are ready. Ports (health at /health/ready, metrics at /metrics):
$(for p in "${procs[@]}"; do printf '  %-*s %s\n' "$width" "$p" "$(grep -ho 'default_http_addr: "[^"]*"' "generated/crates/$p/src/"*.rs | head -1 | cut -d'"' -f2)"; done)
A token for the APIs:
  $TARGET_DIR/debug/dev-token --secret "$JWT_HS256_SECRET" --sub alice --tenant acme --roles customer,warehouse,support,admin
Press Ctrl-C to stop everything.
EOF
fi

# Run until Ctrl-C, or until one process exits on its own.
set +e
wait -n "${pids[@]}"
code=$?
set -e
for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        echo "run-local.sh: ${names[$i]} exited (status $code); stopping the others"
        break
    fi
done
stop_all
exit 1
