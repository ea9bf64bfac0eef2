#!/usr/bin/env python3
"""Measure each Lambda binary's cold start against a local Lambda Runtime API.

For each binary: its size; the time from process start until its first
`GET /2018-06-01/runtime/invocation/next` (ready: everything before the first SDK
call); the first and the warm (second) invocation, from serving the event to
receiving the response POST; peak RSS (VmHWM) after both. Prints a table.

Used by scripts/measure-cold-start.sh, which builds the binaries first. Only
loopback addresses; DynamoDB points at a loopback port where nothing listens,
so invocations measure our code plus one refused connection, not DynamoDB.
"""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time

API = "/2018-06-01/runtime"

FUNCTIONS = [
    ("task-processor", "task-processor-batch.json"),
    ("ws-connect", "ws-connect-valid.json"),
    ("ws-disconnect", "ws-disconnect.json"),
    ("ws-message", "ws-message-ping.json"),
    ("task-ticker", "task-ticker-schedule.json"),
    ("connection-cleaner", "connection-cleaner-schedule.json"),
]

INVOCATIONS = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runtime:
    """One binary's Runtime API: serves the event INVOCATIONS times, records times."""

    def __init__(self, event):
        self.event = event
        self.lock = threading.Lock()
        self.next_calls = []  # monotonic ns of each GET .../next
        self.served = []  # monotonic ns when each event was handed out
        self.responses = []  # monotonic ns of each response POST
        self.errors = []
        self.done = threading.Event()


def handler_for(runtime):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def setup(self):
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self):
            now = time.monotonic_ns()
            if self.path != API + "/invocation/next":
                self.send_error(404)
                return
            with runtime.lock:
                runtime.next_calls.append(now)
                n = len(runtime.served)
            if n >= INVOCATIONS:
                runtime.done.set()
                # Hold the long poll, as Lambda does between invocations, until we stop.
                runtime.done.wait(30)
                time.sleep(30)
                return
            body = runtime.event
            request_id = "cold-start-%d" % (n + 1)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:000000000000:function:local",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.end_headers()
            with runtime.lock:
                runtime.served.append(time.monotonic_ns())
            self.wfile.write(body)

        def do_POST(self):
            now = time.monotonic_ns()
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b""
            with runtime.lock:
                if self.path.endswith("/response"):
                    runtime.responses.append(now)
                else:
                    runtime.errors.append((self.path, payload[:300]))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measure(bin_dir, events_dir, name, event_file):
    with open(os.path.join(events_dir, event_file), "rb") as f:
        event = f.read()
    runtime = Runtime(event)
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler_for(runtime))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % port,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": "WARN",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "dev-only-not-a-key",
            "AWS_SECRET_ACCESS_KEY": "dev-only-not-a-secret",
            "AWS_MAX_ATTEMPTS": "1",
            "DYNAMODB_ENDPOINT": "http://127.0.0.1:%d" % free_port(),
            "WS_ENDPOINT": "http://127.0.0.1:%d" % free_port(),
            "PLAYERS_TABLE": "Players",
            "TASKS_TABLE": "Tasks",
            "CONNECTIONS_TABLE": "Connections",
            "NOTIFICATIONS_TABLE": "Notifications",
            "TOKEN_SECRET": "dev-only-token-secret-change-me-0123456789",
            "SEED_SECRET": "dev-only-seed-secret-change-me-01234567890",
        }
    )
    path = os.path.join(bin_dir, name)
    start = time.monotonic_ns()
    proc = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finished = runtime.done.wait(60)
    hwm = vm_hwm_kb(proc.pid)
    proc.kill()
    _, stderr = proc.communicate()
    server.shutdown()
    if not finished or len(runtime.responses) < INVOCATIONS:
        sys.stderr.write(
            "%s: did not finish (errors %r)\n%s\n" % (name, runtime.errors, stderr.decode(errors="replace")[-2000:])
        )
        return None
    ms = lambda ns: ns / 1e6
    return {
        "name": name,
        "size": os.path.getsize(path),
        "ready": ms(runtime.next_calls[0] - start),
        "first": ms(runtime.responses[0] - runtime.served[0]),
        "warm": ms(runtime.responses[1] - runtime.served[1]),
        "rss_mb": hwm / 1024 if hwm else float("nan"),
    }


def median_run(bin_dir, events_dir, name, event, runs):
    """The run with the median ready time of `runs` runs (a shared machine is noisy)."""
    results = [measure(bin_dir, events_dir, name, event) for _ in range(runs)]
    if any(r is None for r in results):
        return None
    results.sort(key=lambda r: r["ready"])
    return results[len(results) // 2]


def main():
    bin_dir, events_dir = sys.argv[1], sys.argv[2]
    runs = int(os.environ.get("RUNS", "5"))
    print("median of %d runs per function (by ready time)" % runs)
    rows = [median_run(bin_dir, events_dir, name, event, runs) for name, event in FUNCTIONS]
    print("| function | size (MB) | ready (ms) | first invocation (ms) | warm invocation (ms) | peak RSS (MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        if row is None:
            continue
        print(
            "| %(name)s | %(size_mb).2f | %(ready).1f | %(first).1f | %(warm).1f | %(rss_mb).1f |"
            % dict(row, size_mb=row["size"] / 1e6)
        )
    if any(row is None for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
