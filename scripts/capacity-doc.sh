#!/usr/bin/env bash
# Writes the capacity plan of docs/capacity.md from the cost tool's run, so that the figures
# there are the command's output and nothing else:
#
#   scripts/capacity-doc.sh                 # 100,000 simulated players (the issue's run)
#   PLAYERS=10000 scripts/capacity-doc.sh   # a quicker run (the rates are per player)
#   NO_BUILD=1 scripts/capacity-doc.sh      # reuse target/measure/idle-cost as built
#   DOC=/tmp/capacity.md scripts/capacity-doc.sh   # write another copy of the page
#
# It runs `idle-cost --players $PLAYERS --capacity` (the `measure` profile: release without
# LTO, minutes to build rather than the quarter hour of a fat-LTO build) and replaces the lines
# between the markers `<!-- capacity-plan:begin -->` and `<!-- capacity-plan:end -->` with the
# run's plan, the command, the date, the run's wall and CPU time and peak memory. The prose around the
# block quotes some of its figures: reread it after a run that moved them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
doc="${DOC:-$root/docs/capacity.md}"
players="${PLAYERS:-100000}"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$target/measure/idle-cost"

if ! grep -q '^<!-- capacity-plan:begin' "$doc" || ! grep -q '^<!-- capacity-plan:end' "$doc"; then
    echo "capacity-doc: $doc has no capacity-plan markers" >&2
    exit 2
fi
if [ -z "${NO_BUILD:-}" ]; then
    (cd "$root" && cargo build --quiet --profile measure -p idle-cost)
fi

out="$(mktemp)"
block="$(mktemp)"
trap 'rm -f "$out" "$block" "$out.time"' EXIT
start="$(date +%s)"
# GNU time gives the peak memory when it is installed; the run is the same without it.
if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M %U' -o "$out.time" "$bin" --players "$players" --capacity >"$out"
    read -r peak_kb cpu_secs < <(tail -n 1 "$out.time")
    peak_mb="$((peak_kb / 1024))"
    cpu="${cpu_secs%.*} s of CPU, "
else
    "$bin" --players "$players" --capacity >"$out"
    peak_mb="?"
    cpu=""
fi
secs="$(( $(date +%s) - start ))"

tasks="$(grep -m1 '^  tasks:' "$out" | sed 's/^ *tasks: //')"
{
    echo '<!-- capacity-plan:begin (written by scripts/capacity-doc.sh: edit the script, not this block) -->'
    echo "Output of \`idle-cost --players $players --capacity\` (the capacity part; \`measure\` build,"
    echo "$(date -u +%Y-%m-%d), $((secs / 60)) min $((secs % 60)) s wall time (${cpu}${peak_mb} MB peak) on a 2-core"
    echo "machine shared with other builds; tasks: $tasks):"
    echo
    echo '```'
    # The two lines of rates and assumptions, then the tables as they are (Markdown).
    sed -n '/^capacity plan/,$p' "$out" | sed -n '2,3p'
    echo '```'
    sed -n '/^capacity plan/,$p' "$out" | tail -n +4
    echo '<!-- capacity-plan:end -->'
} >"$block"

awk -v block="$block" '
    /^<!-- capacity-plan:begin/ { while ((getline line < block) > 0) print line; skip = 1; next }
    /^<!-- capacity-plan:end/ { skip = 0; next }
    !skip { print }
' "$doc" >"$doc.new"
mv "$doc.new" "$doc"
echo "capacity-doc: wrote the plan of $players players into $doc (${secs} s)"
