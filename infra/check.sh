#!/usr/bin/env bash
# Static checks for the deployment: checkov on the Bicep (plus its secrets scanner), and JSON
# schema validation of host.json and every function-definitions/*/function.json.
#
#   bash infra/check.sh
#
# Non-interactive; exits non-zero on any failed check, parsing error or tool problem. Creates (and
# reuses) a Python venv in infra/.venv with the pinned tools from infra/requirements-check.txt.
# Needs python3 (with venv; on Debian the script installs python3-venv via apt-get when it can)
# and access to PyPI on first run. No Azure access needed.
set -euo pipefail

INFRA="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$INFRA/.." && pwd)"
VENV="$INFRA/.venv"
REQS="$INFRA/requirements-check.txt"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

step() { printf '\n== %s\n' "$*"; }

ensure_venv() {
  if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    return
  fi
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 ships without ensurepip; python3-venv provides it.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "python3 -m venv failed; installing python3-venv with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$VENV"
      python3 -m venv "$VENV"
    else
      echo "error: python3 -m venv failed (install python3-venv)" >&2
      exit 1
    fi
  fi
}

step "tools (venv: ${VENV#"$ROOT"/})"
ensure_venv
PY="$VENV/bin/python"
STAMP="$VENV/.requirements.sha256"
WANT="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  "$PY" -m pip install --quiet --progress-bar off -r "$REQS"
  echo "$WANT" > "$STAMP"
fi
"$VENV/bin/checkov" --version | sed 's/^/checkov /'

step "JSON schemas: host.json and function.json files"
mapfile -t FUNCTION_FILES < <(find "$ROOT/function-definitions" -mindepth 2 -maxdepth 2 -name function.json | sort)
if [ "${#FUNCTION_FILES[@]}" -eq 0 ]; then
  echo "error: no function-definitions/*/function.json found" >&2
  exit 1
fi
(cd "$ROOT" && "$PY" "$INFRA/validate_json.py" host.json "${FUNCTION_FILES[@]#"$ROOT"/}")

step "JSON schemas self-test: known-bad files must be rejected"
(cd "$ROOT" && "$PY" "$INFRA/validate_json.py" --expect-failure infra/fixtures/bad-host.json infra/fixtures/bad-function.json)

# checkov: --skip-download keeps it offline (no Prisma Cloud calls); the JSON report is read back
# so that parsing errors and "nothing scanned" fail the check too, not only failed checks.
run_checkov() { # <report.json> <checkov args...>
  local report="$1"
  shift
  set +e
  "$VENV/bin/checkov" --skip-download --compact -o json "$@" > "$report"
  local status=$?
  set -e
  # 0 = no failures, 1 = failures; anything else is a crash.
  if [ "$status" -gt 1 ]; then
    echo "error: checkov exited with $status" >&2
    exit 1
  fi
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

step "checkov self-test: an insecure fixture must fail"
run_checkov "$TMP/fixture.json" -f "$INFRA/fixtures/insecure.bicep" --framework bicep
"$PY" - "$TMP/fixture.json" <<'PY'
import json, sys
reports = json.load(open(sys.argv[1]))
reports = reports if isinstance(reports, list) else [reports]
failed = sum(r["summary"]["failed"] for r in reports)
if failed == 0:
    sys.exit("error: checkov found nothing wrong with infra/fixtures/insecure.bicep; is the scanner working?")
print(f"ok    infra/fixtures/insecure.bicep rejected with {failed} failed checks")
PY

step "checkov: infra/ (bicep + secrets)"
run_checkov "$TMP/infra.json" -d "$INFRA" --framework bicep secrets --skip-path '\.venv' --skip-path fixtures
"$PY" - "$TMP/infra.json" <<'PY'
import json, sys
reports = json.load(open(sys.argv[1]))
reports = reports if isinstance(reports, list) else [reports]
bad = 0
scanned = 0
for r in reports:
    kind = r.get("check_type", "?")
    s = r["summary"]
    res = r.get("results", {})
    scanned += s.get("resource_count", 0)
    print(f"{kind}: passed {s['passed']}, failed {s['failed']}, skipped {s['skipped']}, "
          f"parsing errors {s['parsing_errors']}, resources {s.get('resource_count', 0)}")
    for c in res.get("failed_checks", []):
        bad += 1
        print(f"  FAILED  {c['check_id']} {c['check_name']}\n          {c['resource']} {c['file_path']}:{c['file_line_range']}")
    for path in res.get("parsing_errors", []):
        bad += 1
        print(f"  PARSING ERROR  {path}")
    for c in res.get("skipped_checks", []):
        reason = (c.get("check_result") or {}).get("suppress_comment", "")
        print(f"  skipped {c['check_id']} on {c['resource']}: {reason[:160]}")
if scanned == 0:
    sys.exit("error: checkov scanned no resources in infra/")
if bad:
    sys.exit(f"error: {bad} checkov finding(s)")
print("checkov: no failed checks")
PY

step "infra checks passed"
