#!/usr/bin/env bash
# Run a command against a private moto server (a local DynamoDB stand-in) on a
# free loopback port, and stop the server afterwards whatever happens.
#
#   scripts/with-moto.sh cargo nextest run -p store-dynamodb
#
# The command sees DYNAMODB_ENDPOINT and MOTO_ENDPOINT (http://127.0.0.1:PORT),
# dummy credentials and AWS_REGION=us-east-1; its exit code is this script's.
# MOTO_START_TIMEOUT (seconds, default 30) bounds the wait for the server.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

"$here/ensure-venv.sh" "$here/requirements-test.txt"
bin="$root/.venv/bin"
timeout="${MOTO_START_TIMEOUT:-30}"

log="$(mktemp)"
moto_pid=""
# shellcheck disable=SC2317  # reached through the EXIT trap
stop_moto() {
    if [ -n "$moto_pid" ] && kill -0 "$moto_pid" 2>/dev/null; then
        kill "$moto_pid" 2>/dev/null || true
        wait "$moto_pid" 2>/dev/null || true
    fi
    moto_pid=""
}
trap 'stop_moto; rm -f "$log"' EXIT
# Turn signals into an ordinary exit so that the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits for the server at 127.0.0.1:$1 (pid $2) to answer HTTP.
# Exit 0: ready; 3: the process died (port taken?); 4: timed out.
wait_ready='
import os, sys, time, urllib.request, urllib.error
port, pid, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(3)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=1).read()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # any HTTP answer means it is serving
    except OSError:
        time.sleep(0.05)
sys.exit(4)
'
free_port='
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
'

# The port is free when picked but could be taken before moto binds it: a
# server that dies at once gets another port, a few times.
port=""
for attempt in 1 2 3; do
    port="$("$bin/python" -c "$free_port")"
    "$bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    moto_pid=$!
    rc=0
    "$bin/python" -c "$wait_ready" "$port" "$moto_pid" "$timeout" || rc=$?
    if [ "$rc" -eq 0 ]; then
        break
    fi
    if [ "$rc" -eq 4 ]; then
        echo "with-moto: moto_server on 127.0.0.1:$port did not answer within ${timeout}s; its output:" >&2
        cat "$log" >&2
        exit 1
    fi
    wait "$moto_pid" 2>/dev/null || true
    moto_pid=""
    echo "with-moto: moto_server exited at start (attempt $attempt); its output:" >&2
    cat "$log" >&2
    port=""
done
if [ -z "$port" ]; then
    echo "with-moto: could not start moto_server" >&2
    exit 1
fi

export MOTO_ENDPOINT="http://127.0.0.1:$port"
export DYNAMODB_ENDPOINT="$MOTO_ENDPOINT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
# Nothing here may reach a real account or wait on instance metadata.
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN
echo "with-moto: moto_server at $MOTO_ENDPOINT" >&2

status=0
"$@" || status=$?
exit "$status"
