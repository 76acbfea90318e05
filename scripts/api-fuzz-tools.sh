#!/usr/bin/env bash
# Installs schemathesis (PyPI), which the end-to-end test `schemathesis` runs against the
# example's Command and Query APIs from the generated OpenAPI documents. Idempotent, under a
# lock (test binaries may call it concurrently); prints the path of the `schemathesis` command.
set -euo pipefail
VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
exec 9>/var/tmp/api-fuzz-tools.lock
flock 9
if ! command -v schemathesis >/dev/null 2>&1 \
    || [ "$(schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$VERSION" ]; then
    python3 -m pip install -q --disable-pip-version-check "schemathesis==$VERSION" >&2
    hash -r
fi
command -v schemathesis
