#!/usr/bin/env bash
# Microsoft's own azure-ai-ml and azure-identity against `poolbroker local`, unchanged: no proxy,
# no rewriting, only the environment a second shell gets from the banner (SSL_CERT_FILE,
# REQUESTS_CA_BUNDLE, IDENTITY_ENDPOINT, IDENTITY_HEADER, POOLBROKER_ARM_ENDPOINT).
#
#   tests/sdk_compat/run.sh     makes tests/sdk_compat/.venv (requirements.txt), builds the release
#                               binary unless POOLBROKER_BIN names one, runs compat.py
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
started=$SECONDS

venv="$here/.venv"
if ! "$venv/bin/python" -c 'import azure.ai.ml, azure.identity' 2>/dev/null; then
  echo "[sdk_compat] creating $venv (requirements.txt)" >&2
  rm -rf "$venv"
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 ships without ensurepip; python3-venv provides it.
    if command -v apt-get >/dev/null 2>&1; then
      echo "[sdk_compat] installing python3 and python3-venv with apt-get" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
      rm -rf "$venv"
      python3 -m venv "$venv"
    else
      echo "[sdk_compat] error: python3 -m venv failed (install python3 and python3-venv)" >&2
      exit 1
    fi
  fi
  # pip's own cache (~/.cache/pip) is the only thing kept outside the clone.
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

bin="${POOLBROKER_BIN:-}"
if [[ -z "$bin" ]]; then
  cargo build --release --locked --quiet -p poolbroker --bin poolbroker --manifest-path "$repo/Cargo.toml"
  bin="${CARGO_TARGET_DIR:-$repo/target}/release/poolbroker"
fi

# Four free loopback ports (the OS picks them; the world binds them right after).
read -r http_port sb_port arm_port identity_port < <("$venv/bin/python" - <<'PY'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
PY
)

work="$(mktemp -d "${TMPDIR:-/tmp}/poolbroker-sdk-compat.XXXXXX")"
log="$work/poolbroker-local.log"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh state dir: the CA is generated on this first run, as a new user's would be.
"$bin" local --app-root "$repo" --http-port "$http_port" --servicebus-port "$sb_port" \
  --arm-port "$arm_port" --identity-port "$identity_port" --state-dir "$work/state" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  grep -q "Press ctrl-c to stop" "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "[sdk_compat] poolbroker local exited" >&2; exit 1; }
  sleep 0.1
done
grep -q "Press ctrl-c to stop" "$log" || { cat "$log" >&2; echo "[sdk_compat] poolbroker local did not start" >&2; exit 1; }

# Exactly what the banner tells a second shell to run.
eval "$(sed -n 's/^  export /export /p' "$log")"
echo "[sdk_compat] poolbroker local is up (ARM $POOLBROKER_ARM_ENDPOINT, CA $SSL_CERT_FILE)" >&2

status=0
"$venv/bin/python" "$here/compat.py" || status=$?
# Debugging aid: SDK_COMPAT_DUMP=file.json keeps every request the emulator saw.
if [[ -n "${SDK_COMPAT_DUMP:-}" ]]; then
  "$venv/bin/python" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "${IDENTITY_ENDPOINT%/msi/token}/_emulator/requests" >"$SDK_COMPAT_DUMP"
fi
if [[ $status -ne 0 ]]; then
  echo "[sdk_compat] poolbroker local log:" >&2
  tail -n 40 "$log" >&2
fi
echo "[sdk_compat] finished in $((SECONDS - started)) s" >&2
exit $status
