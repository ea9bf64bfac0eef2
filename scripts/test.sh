#!/usr/bin/env bash
# Runs every test of the project: the unit, property, golden and handler tests, and the
# integration tier against a private moto server (DynamoDB stand-in) that this script starts
# on a free loopback port and stops on exit. Needs only Rust and Python 3 with pip.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p idle-core   # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec scripts/with-moto.sh cargo test --workspace --locked "$@"
