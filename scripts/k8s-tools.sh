#!/usr/bin/env bash
# Installs the offline validator of the generated Kubernetes manifests: PyPI
# `kubernetes-validate` (it ships the Kubernetes OpenAPI schemas of every release, so validation
# needs no cluster and no network) into a virtualenv.
#
# Idempotent (does nothing when the pinned version is there) and safe to run concurrently
# (flock). Prints one `KEY=VALUE` line the tests read: KUBERNETES_VALIDATE.
#
# Environment:
#   K8S_TOOLS_VENV   the virtualenv folder (default /var/tmp/codegen-k8s-tools-venv)
#   K8S_TOOLS_LOCK   the lock file (default /var/tmp/codegen-k8s-tools.lock)
set -euo pipefail

VENV="${K8S_TOOLS_VENV:-/var/tmp/codegen-k8s-tools-venv}"
LOCK="${K8S_TOOLS_LOCK:-/var/tmp/codegen-k8s-tools.lock}"
KUBERNETES_VALIDATE_VERSION=1.37.0

die() { echo "k8s-tools.sh: error: $*" >&2; exit 1; }

exec 9>"$LOCK"
flock 9

command -v python3 >/dev/null 2>&1 || die "python3 is missing"
if ! "$VENV/bin/kubernetes-validate" --version >/dev/null 2>&1 \
    || ! "$VENV/bin/python" -m pip show kubernetes-validate 2>/dev/null \
        | grep -qx "Version: $KUBERNETES_VALIDATE_VERSION"; then
    echo "k8s-tools.sh: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $VENV" >&2
    python3 -m venv "$VENV" >&2
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" >&2
fi
"$VENV/bin/kubernetes-validate" --version >/dev/null 2>&1 || die "kubernetes-validate does not run"

echo "KUBERNETES_VALIDATE=$VENV/bin/kubernetes-validate"
