#!/usr/bin/env bash
# The web console in headless Chromium: installs Debian's chromium if it is missing (as root,
# as CI runs), installs the pinned playwright-core (tests/browser/package-lock.json), builds
# and starts idle-local on a free loopback port, and runs tests/browser/*.test.js against it.
#
#   scripts/browser-test.sh
#   SCREENSHOT_DIR=/some/dir scripts/browser-test.sh   # keep the screenshots
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "==> installing Debian's chromium"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium is missing: install it (apt-get install chromium) or run as root" >&2
        exit 1
    fi
fi

echo "==> npm ci (tests/browser)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

# The workspace's test build: it builds target/debug/idle-local (idle-local's integration
# tests need the binary) with the features `cargo test --workspace` resolves, so after
# scripts/test.sh's test run this compiles nothing (`cargo build -p idle-local` resolves its
# own features and rebuilt about 200 crates, some ten minutes of a CI run).
echo "==> cargo test --workspace --no-run (builds idle-local)"
cargo test --workspace --no-run --locked
target_dir="${CARGO_TARGET_DIR:-target}"

work="$(mktemp -d)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$target_dir/debug/idle-local" --listen 127.0.0.1:0 --tick-ms 100 >"$work/stdout" 2>"$work/stderr" &
pid=$!
addr=""
for _ in $(seq 1 150); do
    addr="$(sed -n 's/^ *listening on *//p' "$work/stdout")"
    [ -n "$addr" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "idle-local exited:" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$addr" ]; then
    echo "idle-local did not print its address" >&2
    exit 1
fi
echo "==> idle-local at $addr"

shots="${SCREENSHOT_DIR:-$work}"
mkdir -p "$shots"
status=0
IDLE_LOCAL_URL="$addr" SCREENSHOT_DIR="$shots" node --test tests/browser/console.test.js || status=$?
if [ "$status" -ne 0 ]; then
    echo "==> idle-local's log:" >&2
    tail -n 50 "$work/stderr" >&2
fi
exit "$status"
