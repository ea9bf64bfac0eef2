#!/usr/bin/env bash
# Runs every test of the project: the unit, property, golden and handler tests, and the
# integration tier against a private moto server (DynamoDB stand-in) that this script starts
# on a free loopback port and stops on exit; then the web console in headless Chromium
# (scripts/browser-test.sh); then the AsyncAPI document through the AsyncAPI parser, and the
# TypeScript client's freshness check and its tests against idle-local
# (scripts/client-test.sh). Needs Rust, Python 3 with pip, and Node.js with npm.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p idle-core   # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/with-moto.sh cargo test --workspace --locked "$@"
# The web console in headless Chromium against the local runtime (skipped when arguments pick
# a subset of the cargo tests).
if [ "$#" -eq 0 ]; then
    scripts/browser-test.sh
    echo "==> docs/asyncapi.json through the AsyncAPI parser (tests/spec)"
    (cd tests/spec && npm ci --no-audit --no-fund --loglevel=error && node validate.mjs ../../docs/asyncapi.json)
    scripts/client-test.sh
fi
