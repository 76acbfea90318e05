#!/usr/bin/env bash
# Installs what the external validators of the generated documents need, on a fresh Debian
# machine (codegen/tests/docs_*.rs call it; CI may call it up front):
#
# - Debian `chromium` (headless browser for the HTML site test), when missing;
# - the npm packages of tools/validators/ (`@asyncapi/parser`, `playwright-core`) from the
#   committed package-lock.json, into tools/validators/node_modules (no browser download);
# - PyPI `openapi-spec-validator` into a virtualenv (default /var/tmp/codegen-doc-tools-venv).
#
# Idempotent (does nothing when everything is there) and safe to run concurrently (flock).
# Prints `KEY=VALUE` lines the tests read: CHROMIUM, NODE_MODULES, OPENAPI_VALIDATOR.
#
# Environment:
#   DOC_TOOLS_VENV   the virtualenv folder (default /var/tmp/codegen-doc-tools-venv)
#   DOC_TOOLS_LOCK   the lock file (default /var/tmp/codegen-doc-tools.lock)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VALIDATORS="$ROOT/tools/validators"
VENV="${DOC_TOOLS_VENV:-/var/tmp/codegen-doc-tools-venv}"
LOCK="${DOC_TOOLS_LOCK:-/var/tmp/codegen-doc-tools.lock}"
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0

die() { echo "doc-tools.sh: error: $*" >&2; exit 1; }

exec 9>"$LOCK"
flock 9

# --- Chromium (Debian) ---------------------------------------------------------------------
if ! command -v chromium >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "chromium is missing and apt-get is not available"
    echo "doc-tools.sh: installing chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium fonts-dejavu-core >&2
fi

# --- npm packages (project-local, from the lock file) ---------------------------------------
command -v npm >/dev/null 2>&1 || die "npm is missing (apt-get install -y nodejs npm)"
stamp="$VALIDATORS/node_modules/.installed-lock"
if ! cmp -s "$VALIDATORS/package-lock.json" "$stamp" 2>/dev/null; then
    echo "doc-tools.sh: installing npm packages into $VALIDATORS/node_modules" >&2
    (
        cd "$VALIDATORS"
        PUPPETEER_SKIP_DOWNLOAD=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
            npm ci --no-audit --no-fund --loglevel=error >&2
    )
    cp "$VALIDATORS/package-lock.json" "$stamp"
fi

# --- PyPI validator (virtualenv) ------------------------------------------------------------
if ! "$VENV/bin/openapi-spec-validator" --help >/dev/null 2>&1 \
    || ! "$VENV/bin/python" -m pip show openapi-spec-validator 2>/dev/null \
        | grep -qx "Version: $OPENAPI_SPEC_VALIDATOR_VERSION"; then
    echo "doc-tools.sh: installing openapi-spec-validator into $VENV" >&2
    python3 -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" >&2
fi

echo "CHROMIUM=$(command -v chromium)"
echo "NODE_MODULES=$VALIDATORS/node_modules"
echo "OPENAPI_VALIDATOR=$VENV/bin/openapi-spec-validator"
