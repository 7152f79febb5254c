#!/usr/bin/env bash
# Build the release binary for Linux x86_64 and write the deployable zip.
#
#   bash infra/package.sh [OUT]          # OUT defaults to dist/poolbroker.zip
#
# Environment:
#   POOLBROKER_TARGET  Rust target triple (default x86_64-unknown-linux-gnu). Azure Functions on
#                      Linux runs x86_64; the binary must also load with the glibc of the Functions
#                      base image, so build on a distribution no newer than it (for example in a
#                      Debian 11/12 container) or use a musl target.
#   CARGO              cargo executable (default: cargo).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-dist/poolbroker.zip}"
TARGET="${POOLBROKER_TARGET:-x86_64-unknown-linux-gnu}"
CARGO="${CARGO:-cargo}"

cd "$ROOT"
HOST="$("$CARGO" -vV 2>/dev/null | sed -n 's/^host: //p' || true)"
if [ -z "$HOST" ]; then
  HOST="$(rustc -vV | sed -n 's/^host: //p')"
fi

echo "building poolbroker (release, $TARGET, without the local world)"
# --no-default-features: the deployed binary carries no emulator and no local Functions host
# (`poolbroker package` refuses a binary that does).
"$CARGO" build --release --locked --no-default-features --target "$TARGET" --bin poolbroker
BIN="$ROOT/target/$TARGET/release/poolbroker"

if [ "$HOST" = "$TARGET" ]; then
  # The binary packages itself.
  "$BIN" package --binary "$BIN" --out "$OUT"
else
  # Cross build: package with a host build of the same sources.
  "$CARGO" run --release --locked --bin poolbroker -- package --binary "$BIN" --out "$OUT"
fi

if command -v sha256sum >/dev/null; then
  sha256sum "$OUT"
fi
echo "deploy with: az functionapp deployment source config-zip -g <resource-group> -n <function-app> --src $OUT"
