#!/usr/bin/env bash
# The soak's long form (docs/reliability.md): the same test CI runs with 300 commands, here with
# SOAK_COMMANDS (default 10,000) on the release build. Loopback only. Prints one summary line:
# commands, replies by kind and status, dead-letters, ARM requests and writes, kills, seconds.
#
#   bench/soak.sh            10,000 commands
#   bench/soak.sh 2000       another count
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export SOAK_COMMANDS="${1:-10000}"
exec cargo test --release --locked --test soak -- --nocapture --test-threads=1
