#!/usr/bin/env python3
"""Measure each Lambda binary's cold start against a local Lambda Runtime API, beside a bare one.

    cold_start.py BIN_DIR EVENTS_DIR

For each of the six functions and for `bare-echo` (a bare `lambda_runtime` function that echoes
its event, built with the same profile): its size; **ready**, the time from process start to its
first `GET /2018-06-01/runtime/invocation/next` (everything before the first event); **start ->
first response**, from process start to the first response POST (ready plus the first
invocation, so that work moved from init into the first invocation still counts); **cold
cost**, start -> first response minus the warm (second) invocation: what the cold start adds to
the work the event itself needs; the first and the warm invocation, from handing out the event
to the response POST; peak RSS (VmHWM) after both; the stand-in's calls during init and during
the first invocation. Each function gets the variables template.yaml gives it (so it builds the
same SDK clients), without SSL_CERT_FILE and SSL_CERT_DIR, which Lambda does not set.

The binaries run in rounds, RUNS rounds (default 30), each round every binary once in a
shuffled order, so that the bare binary's runs are interleaved with every function's and a
shared machine's load weighs on all alike. Prints median and interquartile range (p25-p75) per
binary and each median as a ratio to the bare binary's, the load average before and after, and
the stand-in's own round trip (from a Python client: the floor of every AWS call here).

Used by scripts/measure-cold-start.sh, which builds the binaries first. Only loopback addresses.
DynamoDB, SQS and the `@connections` API point at one stand-in on a loopback port that answers
every call with success and nothing in it (`{}`: no item, no page, message sent; a thread per
connection, in a process of its own), except a `GetItem` of a Connections row, answered with
`player-1`'s signed-in connection: a catalog put succeeds, ws-message's sample is a `ping` on
a signed-in connection (a player with no item yet), and the invocations measure our code plus a
loopback round trip per call, not AWS. The first call of an invocation finds the stand-in idle: it
prints what such a call costs (hundreds of microseconds on this VM, against tens on a busy
connection), and a second table splits each binary's start -> first response into its own CPU
time and the rest (waiting for the stand-in, the Runtime API and the scheduler).

CALLS_LOG=FILE appends one line per stand-in call to FILE: the `X-Amz-Target` (DynamoDB, SQS)
or the method and path (`@connections`), to see which calls a count is made of (with ONLY= and
RUNS=1).

The functions log at INFO, the template's default `LogLevel` (LOG_LEVEL=WARN, or any level,
to measure another); their log lines go nowhere (stdout is /dev/null), but they are formatted.

The processor also gets a row of its own for the sample batch cut to its first record (a cold
processor's first batch after a quiet spell is often one write): the sample's five records,
three players and 11 calls are the criterion; the one-record row shows what a lone write costs.

BREAKDOWN=1 also sets IDLE_INIT_TIMING=1 for the functions and prints the median time of each
init step they report on stderr (crates/lambdas/src/lib.rs, `InitTiming`).
"""

import http.server
import json
import math
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

API = "/2018-06-01/runtime"

BARE = ("bare-echo", "ws-message-ping.json")

# (binary, event file[, records]): with `records`, only the event's first that many `Records`
# (a row of its own, labelled with the count).
FUNCTIONS = [
    ("task-processor", "task-processor-batch.json"),
    ("task-processor", "task-processor-batch.json", 1),
    ("ws-connect", "ws-connect-valid.json"),
    ("ws-disconnect", "ws-disconnect.json"),
    ("ws-message", "ws-message-ping.json"),
    ("task-ticker", "task-ticker-schedule.json"),
    ("connection-cleaner", "connection-cleaner-schedule.json"),
]

INVOCATIONS = 2

# Threads of the stand-in, each serving one connection at a time: more than the connections a
# function opens at once (the ticker's 8 shards, the processor's players, the probes).
STAND_IN_THREADS = 32

# The `X-Amz-Target` of the stand-in's own round-trip probe, which CALLS_LOG leaves out.
PROBE = b"RoundTripProbe"


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def stand_in(port_out, calls):
    """DynamoDB, SQS and `@connections` in one, in its own process (a thread per connection,
    minimal HTTP/1.1):
    every call succeeds with an empty answer (`{}`, or 204 to a DELETE). Counts calls in
    `calls` (a shared integer); sends its port through `port_out`."""
    log = open(os.environ["CALLS_LOG"], "a", buffering=1) if os.environ.get("CALLS_LOG") else None
    ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 2\r\n\r\n{}"
    deleted = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    def connection_row(body):
        """The Connections row asked for: `player-1`'s, connected a second ago, so that
        ws-message's sample is answered on a signed-in connection as on AWS."""
        connection_id = json.loads(body)["Key"]["connection_id"]["S"]
        now_ms = int(time.time() * 1000)
        item = {
            "connection_id": {"S": connection_id},
            "player_id": {"S": "player-1"},
            "is_admin": {"BOOL": False},
            "connected_at": {"N": str(now_ms - 1000)},
            "token_expires_at": {"N": str(now_ms + 3_600_000)},
            "expires_at": {"N": str(now_ms // 1000 + 3600)},
        }
        answer = json.dumps({"Item": item}).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
        )

    def connection(sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = sock.makefile("rb")
        try:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = reader.read(length) if length else b""
                with calls.get_lock():
                    calls.value += 1
                lines = head.split(b"\r\n")
                target = [l[13:].strip() for l in lines if l[:13].lower() == b"x-amz-target:"]
                if log and target != [PROBE]:
                    log.write((target[0] if target else lines[0].rsplit(b" ", 1)[0]).decode() + "\n")
                if head.startswith(b"DELETE "):
                    sock.sendall(deleted)
                elif target == [b"DynamoDB_20120810.GetItem"] and b'"Connections"' in body:
                    sock.sendall(connection_row(body))
                else:
                    sock.sendall(ok)
        except OSError:
            pass
        finally:
            reader.close()
            sock.close()

    # Threads waiting in accept() on one socket: a connection wakes one of them, which serves
    # it to the end with blocking reads. An asyncio server took about twice as long to answer a
    # new connection's first call (its accept, transport, protocol and task come first), which
    # is the call every function's first invocation begins with.
    server = socket.create_server(("127.0.0.1", 0), backlog=128)

    def worker():
        while True:
            sock, _ = server.accept()
            connection(sock)

    for _ in range(STAND_IN_THREADS):
        threading.Thread(target=worker, daemon=True).start()
    port_out.send(server.getsockname()[1])
    threading.Event().wait()


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Runtime:
    """One process's Runtime API: serves the event INVOCATIONS times, records times."""

    def __init__(self, event, calls):
        self.event = event
        self.calls = calls  # the stand-in's count of calls
        self.lock = threading.Lock()
        self.next_calls = []  # monotonic ns of each GET .../next
        self.aws_calls = []  # the stand-in's count of calls at each GET .../next
        self.served = []  # monotonic ns when each event was handed out
        self.responses = []  # monotonic ns of each response POST
        self.pid = None  # the function's process, once started
        self.cpu_at_next = []  # its CPU time (ns, every thread) at each GET .../next
        self.cpu_at_responses = []  # and at each response POST
        self.errors = []
        self.done = threading.Event()


def handler_for(runtime):
    class Handler(Quiet):
        def do_GET(self):
            now = time.monotonic_ns()
            if self.path != API + "/invocation/next":
                self.send_error(404)
                return
            with runtime.lock:
                runtime.next_calls.append(now)
                runtime.aws_calls.append(runtime.calls.value)
                runtime.cpu_at_next.append(cpu_ns(runtime.pid))
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
                    runtime.cpu_at_responses.append(cpu_ns(runtime.pid))
                else:
                    runtime.errors.append((self.path, payload[:300]))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def cpu_ns(pid):
    """The CPU time of every thread of `pid` so far (ns, /proc/<pid>/task/*/schedstat's first
    field: time on a CPU), or NaN when it cannot be read. Read while the process waits for the
    Runtime API's answer, so it is the time up to that request."""
    if pid is None:
        return float("nan")
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return total


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# The variables template.yaml gives each function beyond the tables (Globals): which secrets, and
# which clients it builds (WS_ENDPOINT: @connections; WAKE_QUEUE_URL: SQS; CATALOGS_TABLE: the
# catalog store).
EXTRA = {
    "bare-echo": [],
    "ws-connect": ["TOKEN_SECRET"],
    "ws-disconnect": [],
    "ws-message": ["TOKEN_SECRET", "SEED_SECRET", "WS_ENDPOINT", "CATALOGS_TABLE"],
    "task-processor": ["SEED_SECRET", "WS_ENDPOINT", "WAKE_QUEUE_URL", "CATALOGS_TABLE"],
    "task-ticker": ["SEED_SECRET", "CATALOGS_TABLE"],
    "connection-cleaner": ["WS_ENDPOINT"],
}


def environment(name, aws, breakdown):
    # Lambda sets no SSL_CERT_FILE or SSL_CERT_DIR; a machine that does would change what the
    # system's root store costs.
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "dev-only-not-a-key",
            "AWS_SECRET_ACCESS_KEY": "dev-only-not-a-secret",
            "AWS_SESSION_TOKEN": "dev-only-not-a-token",
            "AWS_MAX_ATTEMPTS": "1",
            "DYNAMODB_ENDPOINT": aws,
            "SQS_ENDPOINT": aws,
            "PLAYERS_TABLE": "Players",
            "TASKS_TABLE": "Tasks",
            "CONNECTIONS_TABLE": "Connections",
            "NOTIFICATIONS_TABLE": "Notifications",
        }
    )
    extra = {
        "WS_ENDPOINT": aws,
        "WAKE_QUEUE_URL": aws + "/000000000000/wake",
        "CATALOGS_TABLE": "Catalogs",
        # The secret the sample tokens are signed with (events/README.md), so that ws-connect's
        # sample is the accepted connect, not a refusal.
        "TOKEN_SECRET": "dev-secret-change-me-dev-secret-change-me",
        "SEED_SECRET": "dev-only-seed-secret-change-me-01234567890",
    }
    env.update({k: extra[k] for k in EXTRA[name]})
    if breakdown:
        env["IDLE_INIT_TIMING"] = "1"
    return env


def measure(path, event, env, calls):
    """One cold start of the binary at `path`: a dict of figures, or None if it failed."""
    runtime = Runtime(event, calls)
    server = serve(handler_for(runtime))
    env = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.server_address[1])
    calls_before = runtime.calls.value
    start = time.monotonic_ns()
    proc = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    runtime.pid = proc.pid
    finished = runtime.done.wait(60)
    hwm = vm_hwm_kb(proc.pid)
    proc.kill()
    _, stderr = proc.communicate()
    server.shutdown()
    server.server_close()
    stderr = stderr.decode(errors="replace")
    if not finished or len(runtime.responses) < INVOCATIONS:
        sys.stderr.write(
            "%s: did not finish (errors %r)\n%s\n" % (path, runtime.errors, stderr[-2000:])
        )
        return None
    steps = {}
    for line in stderr.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "init-timing":
            steps[parts[1]] = int(parts[2]) / 1000
    ms = lambda ns: ns / 1e6
    return {
        "ready": ms(runtime.next_calls[0] - start),
        "to_first": ms(runtime.responses[0] - start),
        "first": ms(runtime.responses[0] - runtime.served[0]),
        "warm": ms(runtime.responses[1] - runtime.served[1]),
        "cold": ms(runtime.responses[0] - start) - ms(runtime.responses[1] - runtime.served[1]),
        "cpu_to_first": ms(runtime.cpu_at_responses[0]),
        "cpu_first": ms(runtime.cpu_at_responses[0] - runtime.cpu_at_next[0]),
        "rss_mb": hwm / 1024 if hwm else float("nan"),
        "init_calls": runtime.aws_calls[0] - calls_before,
        "first_calls": runtime.aws_calls[1] - runtime.aws_calls[0],
        "errors": len(runtime.errors),
        "steps": steps,
    }


PROBE_REQUEST = b'{"TableName":"Connections","Key":{"connection_id":{"S":"c"}}}'


def probe(sock):
    """Microseconds of one call to the stand-in on `sock` (the probe's target, which CALLS_LOG
    leaves out, answered `{}`)."""
    request = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: %s\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (PROBE, len(PROBE_REQUEST), PROBE_REQUEST)
    )
    start = time.perf_counter_ns()
    sock.sendall(request)
    got = b""
    while not got.endswith(b"{}"):
        got += sock.recv(4096)
    return (time.perf_counter_ns() - start) / 1000


def stand_in_round_trip_us(port, n=500):
    """(p50, p90) microseconds of one call to the stand-in from a Python client on a kept
    connection, calls back to back: what a function's call costs in this harness before any of
    its own work, at best."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = [probe(sock) for _ in range(n)]
    q = statistics.quantiles(times, n=10)
    return statistics.median(times), q[8]


def stand_in_cold_call_us(port, n=50, idle_s=0.02):
    """(p50, p90) microseconds of a call on a new connection after the stand-in has been idle
    for `idle_s`, as a function's first call finds it: the stand-in's process is woken and
    accepts the connection before it answers."""
    times = []
    for _ in range(n):
        time.sleep(idle_s)
        start = time.perf_counter_ns()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            probe(sock)
            times.append((time.perf_counter_ns() - start) / 1000)
    q = statistics.quantiles(times, n=10)
    return statistics.median(times), q[8]


def quartiles(values):
    """(p25, median, p75) of `values`."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def start_stand_in():
    """Starts the stand-in in a process of its own: its call count, its URL and its port."""
    calls = multiprocessing.Value("q", 0)
    port_in, port_out = multiprocessing.Pipe(duplex=False)
    multiprocessing.Process(target=stand_in, args=(port_out, calls), daemon=True).start()
    port = port_in.recv()
    return calls, "http://127.0.0.1:%d" % port, port


def main():
    bin_dir, events_dir = sys.argv[1], sys.argv[2]
    runs = int(os.environ.get("RUNS", "30"))
    breakdown = bool(os.environ.get("BREAKDOWN"))
    only = os.environ.get("ONLY")
    functions = [f for f in FUNCTIONS if not only or f[0] in only.split(",")]
    binaries = [BARE] + functions
    calls, aws, aws_port = start_stand_in()
    jobs = []
    for binary, event_file, *records in binaries:
        with open(os.path.join(events_dir, event_file), "rb") as f:
            event = f.read()
        name = binary
        if records:
            parsed = json.loads(event)
            parsed["Records"] = parsed["Records"][: records[0]]
            event = json.dumps(parsed).encode()
            name = "%s (%d record%s)" % (binary, records[0], "" if records[0] == 1 else "s")
        path = os.path.join(bin_dir, binary)
        env = environment(binary, aws, breakdown and binary != BARE[0])
        jobs.append((name, path, event, env))
    results = {name: [] for name, _, _, _ in jobs}
    load_before = os.getloadavg()
    failed = False
    for _ in range(runs):
        order = list(jobs)
        random.shuffle(order)
        for name, path, event, env in order:
            result = measure(path, event, env, calls)
            if result is None:
                failed = True
            else:
                results[name].append(result)
    load_after = os.getloadavg()
    rtt = stand_in_round_trip_us(aws_port)
    cold_call = stand_in_cold_call_us(aws_port)

    print(
        "%d rounds, each binary once per round in a shuffled order; median (p25-p75); "
        "x bare = the function's median / bare-echo's median in this run" % runs
    )
    print("load average before %.2f %.2f %.2f, after %.2f %.2f %.2f" % (load_before + load_after))
    print(
        "stand-in round trip from a Python client (after the rounds): p50 %.0f us, p90 %.0f us; "
        "each AWS call of a function costs at least this here" % rtt
    )
    print(
        "a call on a new connection after the stand-in idled 20 ms (as a function's first call "
        "finds it): p50 %.0f us, p90 %.0f us" % cold_call
    )
    print()
    print(
        "| binary | size (MB) | x bare | ready (ms) | x bare | start -> first response (ms) | x bare "
        "| cold cost (ms) | x bare | first inv. (ms) | warm inv. (ms) | peak RSS (MB) | x bare | AWS calls (init, first inv.) |"
    )
    print("| --- |" + " ---: |" * 13)
    base = {}
    for name, path, _, _ in jobs:
        rows = results[name]
        if not rows:
            print("| %s | failed |" % name)
            continue
        size = os.path.getsize(path) / 1e6
        stats = {
            k: quartiles([r[k] for r in rows])
            for k in ("ready", "to_first", "cold", "first", "warm", "rss_mb")
        }
        if name == BARE[0]:
            base = dict((k, v[1]) for k, v in stats.items())
            base["size"] = size
        ratio = lambda key, value: ("%.2f" % (value / base[key])) if base.get(key) else "-"
        q = lambda key, fmt="%.1f": (fmt + " (" + fmt + "-" + fmt + ")") % (
            stats[key][1],
            stats[key][0],
            stats[key][2],
        )
        print(
            "| %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d, %d |"
            % (
                name,
                size,
                ratio("size", size),
                q("ready", "%.2f"),
                ratio("ready", stats["ready"][1]),
                q("to_first", "%.2f"),
                ratio("to_first", stats["to_first"][1]),
                q("cold", "%.2f"),
                ratio("cold", stats["cold"][1]),
                q("first", "%.2f"),
                q("warm", "%.2f"),
                q("rss_mb"),
                ratio("rss_mb", stats["rss_mb"][1]),
                statistics.median([r["init_calls"] for r in rows]),
                statistics.median([r["first_calls"] for r in rows]),
            )
        )
        errors = sum(r["errors"] for r in rows)
        if errors:
            sys.stderr.write("%s: %d error responses in %d runs\n" % (name, errors, len(rows)))

    print()
    print(
        "CPU time (every thread, /proc/<pid>/task/*/schedstat) up to the first response, and the "
        "rest of start -> first response: waiting (for the stand-in, the Runtime API, the "
        "scheduler), median (p25-p75)"
    )
    print()
    print(
        "| binary | CPU to first response (ms) | x bare | CPU in first inv. (ms) "
        "| waiting (ms) |"
    )
    print("| --- |" + " ---: |" * 4)
    cpu_base = None
    for name, _, _, _ in jobs:
        # A process whose threads could not all be read (one ending as it was read) is left out.
        rows = [
            r
            for r in results[name]
            if not math.isnan(r["cpu_to_first"]) and not math.isnan(r["cpu_first"])
        ]
        if not rows:
            continue
        cpu = quartiles([r["cpu_to_first"] for r in rows])
        first = quartiles([r["cpu_first"] for r in rows])
        waiting = quartiles([r["to_first"] - r["cpu_to_first"] for r in rows])
        if name == BARE[0]:
            cpu_base = cpu[1]
        print(
            "| %s | %.2f (%.2f-%.2f) | %s | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) |"
            % (
                (name, cpu[1], cpu[0], cpu[2], "%.2f" % (cpu[1] / cpu_base) if cpu_base else "-")
                + (first[1], first[0], first[2], waiting[1], waiting[0], waiting[2])
            )
        )

    if breakdown:
        steps = []
        for name, _, _, _ in jobs:
            for r in results[name]:
                for step in r["steps"]:
                    if step not in steps:
                        steps.append(step)
        print()
        print("init steps (IDLE_INIT_TIMING), median ms")
        print()
        print("| function | " + " | ".join(steps) + " |")
        print("| --- |" + " ---: |" * len(steps))
        for name, _, _, _ in jobs[1:]:
            cells = []
            for step in steps:
                values = [r["steps"][step] for r in results[name] if step in r["steps"]]
                cells.append("%.2f" % statistics.median(values) if values else "-")
            print("| %s | %s |" % (name, " | ".join(cells)))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
