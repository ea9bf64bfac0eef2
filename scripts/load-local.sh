#!/usr/bin/env bash
# Thousands of WebSocket clients against idle-local on this machine: builds idle-local and
# idle-load with the `measure` profile (release without LTO), starts idle-local in memory on a
# free loopback port pinned to CPU 1, runs idle-load pinned to CPU 0 with the server's pid (so
# its CPU and RSS are sampled), prints the figures and stops the server. Needs Linux (taskset,
# /proc). The figures are in docs/performance.md, "Thousands of clients on one machine".
#
#   scripts/load-local.sh 2000                   # 2000 clients, ramp 20 s, steady 60 s
#   scripts/load-local.sh 200 --steady-secs 30   # anything after N goes to idle-load
#   scripts/load-local.sh 1000 --json            # the report as JSON
#   NO_BUILD=1 scripts/load-local.sh 1000        # use what target/measure holds
#   TICK_MS=100 scripts/load-local.sh 1000       # idle-local's --tick-ms (default 500)
#   PERSIST=1 scripts/load-local.sh 1000         # idle-local with a temporary --data-dir
#   DATA_DIR=DIR scripts/load-local.sh 1 ...     # idle-local on an existing data directory
#   SERVER_CPU=1 LOAD_CPU=0 ...                  # the CPUs to pin to (taskset -c)
#
# idle-local's log (stderr) goes to a temporary file, printed at the end when it has warnings.
# idle-load exits 1 when there were errors; so does this script.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

clients="${1:?usage: scripts/load-local.sh N [idle-load options]}"
shift
server_cpu="${SERVER_CPU:-1}"
load_cpu="${LOAD_CPU:-0}"
target="${CARGO_TARGET_DIR:-$root/target}/measure"

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --profile measure --locked -p idle-local -p idle-load
fi

# Every client is a socket on both sides: raise the open-file limit to the hard one.
ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

server_args=(--listen 127.0.0.1:0 --tick-ms "${TICK_MS:-500}")
if [ -n "${DATA_DIR:-}" ]; then
    server_args+=(--data-dir "$DATA_DIR")
elif [ -n "${PERSIST:-}" ]; then
    server_args+=(--data-dir "$work/data")
fi
taskset -c "$server_cpu" "$target/idle-local" "${server_args[@]}" \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

# The address is the "listening on http://…" line.
addr=""
for _ in $(seq 1 100); do
    addr="$(sed -n 's/^ *listening on *http:\/\///p' "$work/server.out" | head -n 1)"
    [ -n "$addr" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "idle-local exited:" >&2
        cat "$work/server.err" >&2
        exit 2
    fi
    sleep 0.1
done
if [ -z "$addr" ]; then
    echo "idle-local printed no address in 10 s" >&2
    exit 2
fi

echo "idle-local pid $server_pid on $addr (CPU $server_cpu, ${server_args[*]}); idle-load on CPU $load_cpu; $(uptime)" >&2
status=0
taskset -c "$load_cpu" "$target/idle-load" --url "ws://$addr/ws" --clients "$clients" \
    --server-pid "$server_pid" "$@" || status=$?

kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""
if grep -qE 'WARN|ERROR' "$work/server.err"; then
    echo "idle-local warnings and errors (first 20):" >&2
    grep -E 'WARN|ERROR' "$work/server.err" | head -n 20 >&2
fi
exit "$status"
