#!/usr/bin/env python3
"""Instructions of each phase of one function's cold start, counted by callgrind: init, the
first invocation and the warm one. Counts do not move with a shared machine's load, so a change
of a few percent shows where scripts/cold_start.py's times cannot.

    profile_cold_start.py BIN_DIR EVENTS_DIR FUNCTION [RECORDS]

Runs BIN_DIR/FUNCTION under `valgrind --tool=callgrind` three times, against the stand-in and
the Runtime API of scripts/cold_start.py with the environment it gives the function there:
serving no event (init only), one event, then two. The phases are the differences. FUNCTION's
event is the one cold_start.py measures (RECORDS cuts a batch to its first records). Leaves
`callgrind.out.FUNCTION.N` (N events) in OUT_DIR (default /tmp) for `callgrind_annotate
--inclusive=yes`. Needs valgrind; a profile with debug symbols (`PROFILE=coldstart`, which
keeps them) names functions, a stripped release build counts the same instructions.
"""

import json
import os
import shlex
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cold_start  # noqa: E402


def instructions(path):
    """The `summary:` (or `totals:`) line of a callgrind output file: instructions executed."""
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise ValueError("no totals in %s" % path)


def run(path, event, env, calls, invocations, out):
    """One run of the binary under callgrind serving `invocations` events; its instructions."""
    cold_start.INVOCATIONS = invocations
    runtime = cold_start.Runtime(event, calls)
    server = cold_start.serve(cold_start.handler_for(runtime))
    env = dict(env, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % server.server_address[1])
    wrap = shlex.split(os.environ.get("VALGRIND", "valgrind")) + [
        "--tool=callgrind",
        "--callgrind-out-file=" + out,
    ]
    proc = subprocess.Popen(
        wrap + [path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    finished = runtime.done.wait(300)
    # SIGTERM, not SIGKILL: valgrind writes its output as the process dies.
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate()
    server.shutdown()
    server.server_close()
    if not finished or len(runtime.responses) < invocations:
        sys.exit("%s: did not finish\n%s" % (path, stderr.decode(errors="replace")[-2000:]))
    return instructions(out)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    bin_dir, events_dir, function = sys.argv[1:4]
    records = int(sys.argv[4]) if len(sys.argv) == 5 else None
    rows = [f for f in [cold_start.BARE] + cold_start.FUNCTIONS if f[0] == function]
    if not rows:
        sys.exit("unknown function %r; one of %s" % (function, sorted({f[0] for f in [cold_start.BARE] + cold_start.FUNCTIONS})))
    with open(os.path.join(events_dir, rows[0][1]), "rb") as f:
        event = f.read()
    if records:
        parsed = json.loads(event)
        parsed["Records"] = parsed["Records"][:records]
        event = json.dumps(parsed).encode()
    calls, aws, _ = cold_start.start_stand_in()
    env = cold_start.environment(function, aws, False)
    out_dir = os.environ.get("OUT_DIR", "/tmp")
    path = os.path.join(bin_dir, function)
    totals = [
        run(path, event, env, calls, n, os.path.join(out_dir, "callgrind.out.%s.%d" % (function, n)))
        for n in (0, 1, 2)
    ]
    print("%s%s, instructions (callgrind)" % (function, " (%d records)" % records if records else ""))
    print("init              %12d" % totals[0])
    print("first invocation  %12d" % (totals[1] - totals[0]))
    print("warm invocation   %12d" % (totals[2] - totals[1]))


if __name__ == "__main__":
    main()
