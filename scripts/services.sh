#!/usr/bin/env bash
# Makes the three servers the runtime's integration tests (and local runs) need available:
# RabbitMQ, PostgreSQL and a MongoDB-wire-compatible server.
#
# - Idempotent: installs (Debian packages / pip) only what is absent, starts only what is stopped.
# - Safe to run concurrently (test binaries call it): everything runs under `flock`.
# - Waits until each server answers, with a deadline, and prints one line per service.
#
# Environment:
#   AMQP_URL      default amqp://guest:guest@127.0.0.1:5672/%2f  (only host/port are used)
#   DATABASE_URL  default postgres://postgres@127.0.0.1:5432/postgres
#   MONGODB_URL   when set, a real MongoDB chosen by URL: the script only waits for it;
#                 when unset, SecantusDB (`secantusd-py`) is started on 127.0.0.1:27017 if nothing
#                 listens there yet.
#   SERVICES_FRESH_MONGO=1  stop the SecantusDB this script started (if running) and start it
#                 again on an empty data directory (scripts/test.sh does, before any test runs:
#                 the end-to-end tests leave their databases behind, see tests/e2e/src/lib.rs)
#   SERVICES_TIMEOUT  seconds to wait for each server (default 90)
#   SERVICES_STATE_DIR  where SecantusDB keeps its data and log
#                 (default ${XDG_STATE_HOME:-/var/tmp}/runtime-services)
set -euo pipefail

TIMEOUT="${SERVICES_TIMEOUT:-90}"
STATE_DIR="${SERVICES_STATE_DIR:-${XDG_STATE_HOME:-/var/tmp}/runtime-services}"
LOCK_FILE="${SERVICES_LOCK_FILE:-/var/tmp/runtime-services.lock}"
# taken shared by broker tests and exclusively by broker-restart tests (runtime/tests/support)
BROKER_LOCK_FILE=/var/tmp/runtime-broker-restart.lock
mkdir -p "$STATE_DIR"

die() { echo "services.sh: error: $*" >&2; exit 1; }

# host and port of a URL (`scheme://[user[:pw]@]host[:port][/...]`), default port given.
url_host_port() {
    python3 - "$1" "$2" <<'EOF'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
# mongodb URLs may list several hosts; take the first.
netloc = u.netloc.rsplit("@", 1)[-1].split(",")[0]
host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
print(host or "127.0.0.1", port or sys.argv[2])
EOF
}

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# Sends a MongoDB OP_MSG `hello` and checks that the reply says ok.
mongo_hello() {
    python3 - "$1" "$2" <<'EOF'
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
def cstr(s): return s.encode() + b"\0"
body = b"\x10" + cstr("hello") + struct.pack("<i", 1)
db = "admin".encode() + b"\0"
body += b"\x02" + cstr("$db") + struct.pack("<i", len(db)) + db
doc = struct.pack("<i", len(body) + 5) + body + b"\0"
msg = struct.pack("<I", 0) + b"\0" + doc
header = struct.pack("<iiii", 16 + len(msg), 1, 0, 2013)
try:
    with socket.create_connection((host, port), timeout=3) as s:
        s.settimeout(5)
        s.sendall(header + msg)
        data = b""
        while len(data) < 4:
            chunk = s.recv(4096)
            if not chunk: sys.exit(1)
            data += chunk
        total = struct.unpack("<i", data[:4])[0]
        while len(data) < total:
            chunk = s.recv(65536)
            if not chunk: sys.exit(1)
            data += chunk
except OSError:
    sys.exit(1)
# `ok` as a double 1.0 (or int32 1) in the reply document
ok_double = b"\x01ok\0" + struct.pack("<d", 1.0)
ok_int = b"\x10ok\0" + struct.pack("<i", 1)
sys.exit(0 if (ok_double in data or ok_int in data) else 1)
EOF
}

# wait_for <what> <command...>: polls the command until it succeeds or the deadline passes.
wait_for() {
    local what="$1"; shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            die "$what not ready after ${TIMEOUT}s"
        fi
        sleep 0.5
    done
}

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null || die "cannot install $*: apt-get not found"
    if ((apt_updated == 0)); then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

exec 9>"$LOCK_FILE"
flock -w "$((TIMEOUT * 3))" 9 || die "could not take the lock $LOCK_FILE"

# ---------------------------------------------------------------- PostgreSQL
read -r PG_HOST PG_PORT < <(url_host_port "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" 5432)
pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
if ! pg_ready; then
    if ! command -v pg_ctlcluster >/dev/null; then
        apt_install postgresql
        version="$(ls /etc/postgresql | sort -V | tail -n1)"
        hba="/etc/postgresql/$version/main/pg_hba.conf"
        # local development server: trust connections from this machine (as the tests expect)
        if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
            sed -i '/^host/d' "$hba"
            printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >>"$hba"
        fi
    fi
    version="$(ls /etc/postgresql | sort -V | tail -n1)"
    if ! pg_ready; then
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
fi
wait_for "PostgreSQL at $PG_HOST:$PG_PORT" pg_ready
echo "postgresql: ready at $PG_HOST:$PG_PORT"

# ---------------------------------------------------------------- RabbitMQ
read -r MQ_HOST MQ_PORT < <(url_host_port "${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}" 5672)
mq_ready() { tcp_open "$MQ_HOST" "$MQ_PORT"; }
if ! mq_ready; then
    if ! command -v rabbitmq-server >/dev/null; then
        apt_install rabbitmq-server
    fi
    if rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
        # The Erlang node runs but the app is stopped. If a broker-restart test holds the
        # broker lock it restarts the app itself: just wait. If nobody holds it, a test died
        # before restoring the broker: start the app.
        if flock -n -x "$BROKER_LOCK_FILE" true; then
            rabbitmqctl -q start_app >/dev/null 2>&1 || true
        fi
    else
        rabbitmq-server -detached >/dev/null 2>&1 || true
    fi
fi
wait_for "RabbitMQ at $MQ_HOST:$MQ_PORT" mq_ready
echo "rabbitmq: ready at $MQ_HOST:$MQ_PORT"

# ---------------------------------------------------------------- MongoDB protocol
if [[ -n "${MONGODB_URL:-}" ]]; then
    read -r MG_HOST MG_PORT < <(url_host_port "$MONGODB_URL" 27017)
    wait_for "MongoDB at $MG_HOST:$MG_PORT (MONGODB_URL)" mongo_hello "$MG_HOST" "$MG_PORT"
    echo "mongodb: ready at $MG_HOST:$MG_PORT (MONGODB_URL)"
else
    MG_HOST=127.0.0.1
    MG_PORT=27017
    if [[ "${SERVICES_FRESH_MONGO:-}" == 1 ]]; then
        if pkill -f "secantusd-py --host $MG_HOST --port $MG_PORT --storage-path $STATE_DIR/secantus-data"; then
            for _ in $(seq 1 100); do
                tcp_open "$MG_HOST" "$MG_PORT" || break
                sleep 0.1
            done
            pkill -9 -f "secantusd-py --host $MG_HOST --port $MG_PORT --storage-path $STATE_DIR/secantus-data" && sleep 0.5 || true
        fi
        rm -rf "$STATE_DIR/secantus-data"
    fi
    if ! tcp_open "$MG_HOST" "$MG_PORT"; then
        if ! command -v secantusd-py >/dev/null; then
            python3 -m pip install -q SecantusDB || die "pip install SecantusDB failed"
            hash -r
            command -v secantusd-py >/dev/null || die "secantusd-py not on PATH after pip install"
        fi
        mkdir -p "$STATE_DIR/secantus-data"
        setsid nohup secantusd-py --host "$MG_HOST" --port "$MG_PORT" \
            --storage-path "$STATE_DIR/secantus-data" \
            >>"$STATE_DIR/secantusd.log" 2>&1 </dev/null 9>&- &
        disown || true
    fi
    wait_for "SecantusDB at $MG_HOST:$MG_PORT (log: $STATE_DIR/secantusd.log)" mongo_hello "$MG_HOST" "$MG_PORT"
    echo "mongodb: ready at $MG_HOST:$MG_PORT (SecantusDB, log $STATE_DIR/secantusd.log)"
fi
