#!/usr/bin/env bash
# The TypeScript client (clients/typescript): installs its pinned dev dependencies, checks that
# the committed src/protocol.ts and dist/ are what docs/asyncapi.json and src/ build to, then
# runs its tests: unit tests against a fake socket, and tests against idle-local (built here,
# started by the tests on a free loopback port, restarted on the same port with its data
# directory).
#
#   scripts/client-test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "==> npm ci (clients/typescript)"
(cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error)

echo "==> the client's generated types and dist/ are fresh"
(cd clients/typescript && node scripts/check-fresh.mjs)

echo "==> cargo build -p idle-local"
cargo build -p idle-local --locked
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac

echo "==> client tests (node --test)"
cd clients/typescript
IDLE_LOCAL_BIN="$target_dir/debug/idle-local" node --test test/*.test.js
