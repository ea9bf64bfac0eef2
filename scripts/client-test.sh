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

# The workspace's test build: it builds target/debug/idle-local (idle-local's integration
# tests need the binary) with the features `cargo test --workspace` resolves, so after
# scripts/test.sh's test run this compiles nothing (`cargo build -p idle-local` resolves its
# own features and rebuilt about 200 crates, some ten minutes of a CI run).
echo "==> cargo test --workspace --no-run (builds idle-local)"
cargo test --workspace --no-run --locked
target_dir="${CARGO_TARGET_DIR:-target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac

echo "==> client tests (node --test)"
cd clients/typescript
IDLE_LOCAL_BIN="$target_dir/debug/idle-local" node --test test/*.test.js
