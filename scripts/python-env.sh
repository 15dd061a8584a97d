#!/usr/bin/env bash
# Creates .venv at the repository root with the pinned awscli, boto3 and pytest used by the
# compatibility suite in tests/compat (pins: tests/compat/requirements.txt).
#
#   bash scripts/python-env.sh && .venv/bin/pytest -q tests/compat
#
# Idempotent: when .venv already has exactly the pinned versions nothing is downloaded.
# Needs only python3 (3.9+) with pip and access to PyPI. Works where `python3 -m venv`
# lacks ensurepip (Debian without python3-venv) by driving the outer pip into the venv.
# Env: PYTHON (interpreter, default python3), VENV (default <repo>/.venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-$ROOT/.venv}"
REQS="$ROOT/tests/compat/requirements.txt"

log() { echo "python-env: $*" >&2; }

# Prints the requirements that are not installed at exactly the pinned version (none → empty).
missing() {
    "$VENV/bin/python" - "$REQS" <<'PY'
import sys
from importlib import metadata
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have != want:
        print(f"{name}=={want} (have {have})")
PY
}

# A venv whose interpreter no longer runs (its base Python moved or was removed) is rebuilt.
if [ -e "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "$VENV is broken; recreating it"
    rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        log "python -m venv with pip failed (no ensurepip?); creating it without pip"
        rm -rf "$VENV"
        "$PYTHON" -m venv --without-pip "$VENV"
    fi
fi

todo="$(missing)"
if [ -z "$todo" ]; then
    log "$VENV already has the pinned packages"
    exit 0
fi
log "installing: $(echo "$todo" | tr '\n' ' ')"

if "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    pip=("$VENV/bin/python" -m pip)
else
    # No pip inside the venv: the outer pip (22.3+) can install into another interpreter.
    pip=("$PYTHON" -m pip --python "$VENV/bin/python")
fi
PIP_DISABLE_PIP_VERSION_CHECK=1 "${pip[@]}" install --quiet -r "$REQS"

todo="$(missing)"
if [ -n "$todo" ]; then
    log "still missing after install: $todo"
    exit 1
fi
log "ready: $("$VENV/bin/aws" --version 2>&1)"
