#!/usr/bin/env bash
# Property-based API tests of a real `stella serve` against its own OpenAPI document.
#
#   bash .ci/schemathesis.sh
#
# Builds (or reuses) $CARGO_TARGET_DIR/debug/stella, starts `stella serve` on a free loopback
# port with its state in a temporary data directory, registers a client with both scanner scopes,
# and runs schemathesis against GET /openapi.json, authenticating scan routes with DPoP-bound
# tokens through tests/schemathesis/dpop_hooks.py. A first server, allowed local targets, scans
# a tiny rootfs so one completed scan exists (tests/schemathesis/schemathesis.toml sends its id
# to the SBOM, findings and result routes); the server under test does not allow them. The run
# is bounded (examples per operation, `timeout 300` around schemathesis) and fails on any server
# error, any status, media type or header the document does not list, any response body that
# does not match its schema, and when no authorized request reached the scan handlers.
#
# The server's worker tries to pull whatever images the generated requests name: the proxy
# variables below send those pulls to a closed loopback port, so they fail at once and nothing
# leaves this machine.
#
# Environment:
#   SCHEMATHESIS_EXAMPLES   examples per operation (default 50)
#   SCHEMATHESIS_VERSION    pinned schemathesis version, installed when missing (default 4.32.5)
#   SCHEMATHESIS_SERVER_LOG a file to keep the server's log in (default: not kept)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/target}"
EXAMPLES=${SCHEMATHESIS_EXAMPLES:-50}
VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
started=$(date +%s)

if ! python3 -c "import schemathesis, sys; sys.exit(schemathesis.__version__ != '$VERSION')" 2>/dev/null; then
  echo "installing schemathesis $VERSION"
  python3 -m pip install -q --disable-pip-version-check "schemathesis==$VERSION" cryptography requests
fi

cargo build -q --locked -p stella-cli --bin stella
STELLA="$CARGO_TARGET_DIR/debug/stella"

work=$(mktemp -d)
server_pid=
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    # Graceful shutdown waits for the job in hand; do not wait forever.
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
cleanup() {
  stop_server
  if [[ -n "${SCHEMATHESIS_SERVER_LOG:-}" && -f "$work/serve.log" ]]; then
    cp "$work/serve.log" "$SCHEMATHESIS_SERVER_LOG"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
export STELLA_DATA_DIR="$work/data"

client=$(env -u STELLA_DATABASE_URL "$STELLA" auth client create --tenant t1 \
  --scopes scanner.scans.enqueue,scanner.scans.read --format json)
STELLA_CLIENT_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$client")
STELLA_CLIENT_SECRET=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$client")
export STELLA_CLIENT_ID STELLA_CLIENT_SECRET STELLA_URL="$url"

# start_server LOG [ARGS…]: the embedded backends only (no STELLA_* backend of the caller), no
# rate limits (schemathesis sends hundreds of requests a minute from one client), and registry
# pulls sent nowhere.
start_server() {
  local log=$1
  shift
  env -u STELLA_DATABASE_URL -u STELLA_QUEUE_URL -u STELLA_BLOBS_URL -u STELLA_BLOBS_ENDPOINT \
      -u STELLA_BLOBS_REGION -u STELLA_PUBLIC_URL \
      STELLA_RATE_LIMIT_PER_CLIENT=0 STELLA_RATE_LIMIT_PER_TENANT=0 STELLA_RATE_LIMIT_ANONYMOUS=0 \
      HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
      http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9 \
      NO_PROXY= no_proxy= RUST_LOG=info \
      "$STELLA" serve --listen "127.0.0.1:$port" "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "error: stella serve exited before it came up:" >&2
      cat "$log" >&2
      exit 1
    fi
    curl -fsS -o /dev/null "$url/openapi.json" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "error: stella serve did not answer on $url" >&2
  cat "$log" >&2
  exit 1
}

# A completed scan first, so the SBOM, findings and result routes answer 200 too (generated
# ids only ever reach their 404 and 409): a tiny Debian rootfs scanned through a server that
# allows local targets, then that server is stopped. The server under test (same data
# directory) does not allow them: generated `dir:` images must not scan this machine.
mkdir -p "$work/rootfs/etc" "$work/rootfs/var/lib/dpkg"
printf 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n' >"$work/rootfs/etc/os-release"
printf '%s\n' 'Package: zlib1g' 'Status: install ok installed' 'Architecture: amd64' \
  'Source: zlib' 'Version: 1:1.2.13.dfsg-1' 'Description: compression library' '' \
  >"$work/rootfs/var/lib/dpkg/status"
start_server "$work/seed.log" --allow-local-targets
STELLA_COMPLETED_SCAN=$(PYTHONPATH="$ROOT/tests/schemathesis" python3 - "dir:$work/rootfs" <<'PY'
import sys, time
import requests
import dpop_hooks as h

token = h.fetch_token()

def call(method, path, **kwargs):
    for _ in range(2):  # once more with the server's nonce on use_dpop_nonce
        r = requests.request(method, h.BASE_URL + path, auth=h._ProofAuth(token), timeout=10, **kwargs)
        h._remember_nonce(r.headers)
        if r.status_code != 401 or r.json().get("error") != "use_dpop_nonce":
            return r
    return r

r = call("POST", "/api/v1/scans", json={"image": sys.argv[1]})
assert r.status_code == 202, f"enqueueing the seed scan: {r.status_code} {r.text}"
job = r.json()["job_id"]
deadline = time.time() + 120
while time.time() < deadline:
    state = call("GET", f"/api/v1/scans/{job}").json()
    if state["status"] == "completed":
        print(job)
        sys.exit(0)
    assert state["status"] != "failed", f"the seed scan failed: {state}"
    time.sleep(0.5)
sys.exit(f"the seed scan {job} did not complete in 120 s")
PY
)
export STELLA_COMPLETED_SCAN
stop_server
echo "seeded the completed scan $STELLA_COMPLETED_SCAN"

start_server "$work/serve.log"

# Not `ignored_auth`: it expects 401/403 for any bad credentials, where a malformed
# Authorization header is a 400 invalid_request (RFC 6750 §3.1), as the document says.
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
echo "schemathesis $VERSION against $url ($EXAMPLES examples per operation, checks: $checks)"
status=0
# The schemathesis client talks to the server directly, never through the proxy above; it runs
# in the temporary directory, where its caches (.schemathesis, .hypothesis) go.
(cd "$work" && env -u HTTP_PROXY -u HTTPS_PROXY -u ALL_PROXY -u http_proxy -u https_proxy -u all_proxy \
    PYTHONPATH="$ROOT/tests/schemathesis${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=dpop_hooks \
    timeout 300 schemathesis --config-file "$ROOT/tests/schemathesis/schemathesis.toml" \
      run "$url/openapi.json" \
      --checks "$checks" \
      --max-examples "$EXAMPLES" \
      --seed 20261129 \
      --workers 2 \
      --request-timeout 10 \
      --report junit --report-dir "$work/report") \
  || status=$?

if ((status != 0)); then
  echo "error: schemathesis failed (exit $status); server log:" >&2
  grep -v ' request ' "$work/serve.log" | tail -n 50 >&2
fi

# What the server answered, from its access log: a run where every scan request was refused
# (the DPoP hooks broken) would pass the checks above without testing the handlers.
# One line per request id (the gateway and the role behind it both log a request).
sed 's/\x1b\[[0-9;]*m//g' "$work/serve.log" |
  sed -nE 's/.* request_id=([^ ]+) method=([A-Z]+) path=(\/[^ ]*) status=([0-9]+).*/\1 \2 \3 \4/p' |
  sort -u -k1,1 | cut -d' ' -f2- >"$work/answers"
answers() {  # answers METHOD PATH-REGEX STATUS: how many such requests were answered
  grep -cE "^$1 $2 $3\$" "$work/answers" || true
}
echo "server answers by route and status:"
sed -E 's#^([A-Z]+ /api/v1/scans/)[^/ ]+#\1{id}#' "$work/answers" | sort | uniq -c |
  sort -k2,2 -k3,3 -k4,4n
enqueued=$(answers POST /api/v1/scans 202)
listed=$(answers GET /api/v1/scans 200)
read_one=$(answers GET '/api/v1/scans/[^/ ]+' 200)
artifacts=$(answers GET '/api/v1/scans/[^/ ]+/(sbom|findings|result)' 200)
echo "authorized answers: $enqueued scans enqueued (202), $listed lists (200)," \
  "$read_one scans read (200), $artifacts SBOMs, findings and results read (200)"
if ((status == 0)) && ((enqueued == 0 || listed == 0 || read_one == 0 || artifacts == 0)); then
  echo "error: no authorized request reached the scan handlers; are the DPoP hooks working?" >&2
  status=1
fi
echo "schemathesis: $(( $(date +%s) - started ))s"
exit "$status"
