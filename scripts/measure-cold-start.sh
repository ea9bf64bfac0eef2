#!/usr/bin/env bash
# Cold start and footprint of the six Lambda binaries beside a bare `lambda_runtime` function
# (crates/bare-echo) built with the same profile: builds them, then runs each against a local
# Lambda Runtime API on loopback (scripts/cold_start.py), interleaved, and prints size, ready
# time (process start -> first GET .../invocation/next), process start -> first response, the
# first and warm invocations and peak RSS, as median and interquartile range and as ratios to
# the bare function. Needs Rust and Python 3; no AWS account. Not part of the tests: the
# release build takes 20+ minutes on 2 cores.
#
#   scripts/measure-cold-start.sh                      # release (as deployed): build, measure
#   PROFILE=coldstart scripts/measure-cold-start.sh    # the lighter profile (no LTO, 16 CGUs)
#   NO_BUILD=1 scripts/measure-cold-start.sh           # measure what target/<profile> holds
#   RUNS=50 scripts/measure-cold-start.sh              # rounds (default 30)
#   BREAKDOWN=1 scripts/measure-cold-start.sh          # also each init step (IDLE_INIT_TIMING)
#   ONLY=ws-connect,ws-message scripts/...             # some functions only (bare is always run)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
profile="${PROFILE:-release}"
if [ -z "${NO_BUILD:-}" ]; then
    # Two builds, so that the bare function's dependencies get only its own features.
    cargo build --profile "$profile" --locked -p idle-lambdas
    cargo build --profile "$profile" --locked -p idle-bare-echo
fi
target="${CARGO_TARGET_DIR:-$root/target}"
echo "profile $profile, $(nproc) CPUs, $(uname -sm)"
python3 "$root/scripts/cold_start.py" "$target/$profile" "$root/events"
