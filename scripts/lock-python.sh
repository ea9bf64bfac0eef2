#!/usr/bin/env bash
# Re-resolve every requirements-*.txt together in a throwaway venv and write
# the result to constraints-python.txt. Run it after changing a pin, then run
# scripts/lint-template.sh and the tests, and commit the lock with the pin.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The top-level pins, without the lines that point at the old lock.
grep -hv -e '^#' -e '^-' -e '^[[:space:]]*$' "$here"/requirements-*.txt >"$tmp/top.txt"

"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --disable-pip-version-check --no-input \
    --quiet --requirement "$tmp/top.txt" >&2
"$tmp/venv/bin/python" -m pip check >&2

{
    echo "# Lock for every Python package the scripts install into .venv, so that"
    echo "# the requirements-*.txt files share one environment in either order"
    echo "# (aws-sam-cli pins boto3 exactly; moto takes any) and a new machine gets"
    echo "# the versions that were checked. Written by scripts/lock-python.sh: do not"
    echo "# edit by hand."
    "$tmp/venv/bin/python" -m pip freeze
} >"$here/constraints-python.txt"
echo "lock-python: wrote $here/constraints-python.txt" >&2
