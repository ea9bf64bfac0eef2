#!/usr/bin/env bash
# Make the repository's .venv hold the packages of the given requirements files.
#
#   scripts/ensure-venv.sh scripts/requirements-test.txt [more files...]
#
# Idempotent and quick when nothing changed: each file's install is recorded in
# a stamp inside .venv (a hash of the file, the lock and the Python version),
# and pip runs only for files whose stamp is missing or stale. One venv serves
# every file; constraints-python.txt keeps their shared dependencies
# consistent whatever order they are installed in. PYTHON picks the
# interpreter (default python3). Progress goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
lock="$here/constraints-python.txt"

if [ "$#" -eq 0 ]; then
    echo "usage: $0 REQUIREMENTS_FILE..." >&2
    exit 2
fi

mkdir -p "$venv"
# Two scripts started at once (say lint and tests in parallel) must not build
# the venv over each other. flock is Linux-only; elsewhere, run one at a time.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv/.lock"
    flock 9
fi

# A venv whose interpreter vanished (Python upgraded or removed) is rebuilt.
if [ -e "$venv/bin/python" ] && ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    echo "ensure-venv: $venv is broken; rebuilding it" >&2
    find "$venv" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf {} +
fi
if [ ! -e "$venv/bin/python" ]; then
    echo "ensure-venv: creating $venv with $("$python" --version 2>&1)" >&2
    "$python" -m venv "$venv"
fi

pyversion="$("$venv/bin/python" -c 'import sys; print(sys.version)')"

for req in "$@"; do
    if [ ! -f "$req" ]; then
        echo "ensure-venv: no such requirements file: $req" >&2
        exit 2
    fi
    name="$(basename "$req")"
    stamp="$venv/.stamp-$name"
    want="$({ cat "$req" "$lock"; echo "$pyversion"; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        continue
    fi
    echo "ensure-venv: installing $name" >&2
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
        --quiet --requirement "$req" >&2
    echo "$want" >"$stamp"
done
