#!/usr/bin/env bash
# Runs every cargo-fuzz target for a set time (default 600 s each) and prints one line per
# target: runs executed, corpus size, crashes. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). Usage: fuzz/run.sh [seconds-per-target] [target ...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(invocation_decoder parse_command_json parse_command_yaml hook_eventgrid hook_cloudevents hook_webhook)
fi
mkdir -p logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="logs/$t.log"
  status=0
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=1024 -max_len=65536 >"$log" 2>&1 || status=$?
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -1 || true)
  corpus=$(find "corpus/$t" -type f | wc -l)
  crashes=$(find artifacts/"$t" -type f 2>/dev/null | wc -l)
  echo "$t: ${secs}s, ${runs:-?} runs, corpus ${corpus}, crashes ${crashes}, exit ${status}"
done
