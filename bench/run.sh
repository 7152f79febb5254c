#!/usr/bin/env bash
# poolbroker benchmarks: the one entry point. See docs/benchmarks.md.
#
#   bench/run.sh               full run (release build, Python venv with azure-ai-ml; ~2 min of measuring)
#   bench/run.sh --smoke       every Rust-side figure, tiny, on the debug build; no Python (CI)
#   bench/run.sh --build-time  cold `cargo build --release` in a throw-away target dir under /tmp
#
# Everything listens on 127.0.0.1 only. Extra arguments after the mode go to poolbroker-bench
# (e.g. `bench/run.sh -- --cycles 50`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

mode=full
if [[ $# -gt 0 ]]; then
  case "$1" in
    --smoke) mode=smoke; shift ;;
    --build-time) mode=build-time; shift ;;
    --full) shift ;;
    --) ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown mode '$1' (expected --smoke, --build-time or nothing)" >&2; exit 2 ;;
  esac
fi
[[ "${1:-}" == "--" ]] && shift

target_dir="${CARGO_TARGET_DIR:-$repo/target}"

case "$mode" in
  build-time)
    tmp_target="$(mktemp -d /tmp/poolbroker-build-time.XXXXXX)"
    trap 'rm -rf "$tmp_target"' EXIT
    echo "[bench] cold release build into $tmp_target (dependencies already downloaded are reused)" >&2
    cargo fetch --quiet
    start=$(date +%s.%N)
    CARGO_TARGET_DIR="$tmp_target" cargo build --release --quiet -p poolbroker
    end=$(date +%s.%N)
    size=$(stat -c %s "$tmp_target/release/poolbroker")
    awk -v s="$start" -v e="$end" -v b="$size" -v n="$(nproc)" 'BEGIN {
      printf "| cold `cargo build --release -p poolbroker` | %.0f s on %d cores |\n", e - s, n
      printf "| release binary size (stripped) | %.1f MiB |\n", b / 1048576
    }'
    exit 0
    ;;

  smoke)
    # After a plain `cargo build` this only links the driver; it never needs a release build.
    cargo build --quiet -p poolbroker -p poolbroker-bench
    exec timeout 120 "$target_dir/debug/poolbroker-bench" --smoke --repo "$repo" \
      --binary "$target_dir/debug/poolbroker" "$@"
    ;;

  full)
    echo "[bench] building release binaries" >&2
    cargo build --release --quiet -p poolbroker -p poolbroker-bench
    venv="$here/.venv"
    if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import azure.ai.ml' 2>/dev/null; then
      echo "[bench] creating $venv with azure-ai-ml (bench/requirements.txt)" >&2
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    fi
    mkdir -p "$here/results"
    "$target_dir/release/poolbroker-bench" --repo "$repo" \
      --binary "$target_dir/release/poolbroker" \
      --python "$venv/bin/python" \
      --json-out "$here/results/latest.json" "$@" | tee "$here/results/latest.md"
    ;;
esac
