#!/usr/bin/env bash
# Cold start and footprint of the six Lambda binaries: builds them in release
# (strip, LTO, one codegen unit, panic=abort) and runs each against a local
# Lambda Runtime API on loopback (scripts/cold_start.py), printing a table of
# size, ready time (process start -> first GET .../invocation/next), first and
# warm invocation time, and peak RSS. Needs Rust and Python 3; no AWS account.
# Not part of the tests: the release build takes minutes on 2 cores.
#
#   scripts/measure-cold-start.sh            # build, then measure
#   NO_BUILD=1 scripts/measure-cold-start.sh # measure what target/release holds
#   RUNS=9 scripts/measure-cold-start.sh     # runs per function (median shown; default 5)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release --locked -p idle-lambdas
fi
target="${CARGO_TARGET_DIR:-$root/target}"
python3 "$root/scripts/cold_start.py" "$target/release" "$root/events"
