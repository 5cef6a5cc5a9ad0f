#!/usr/bin/env bash
# Scan API benchmarks: a real `stella serve` on loopback, driven by crates/stella-loadgen.
#
#   bash bench/api.sh                  # about 6 minutes on 2 cores; JSON lines + a summary
#   GET_SECS=5 TPUT_SECS=20 JOBS=20 bash bench/api.sh   # a quick look
#
# What runs (each a real server process with its default log level, rate limits off):
#   embedded   `stella serve` on its embedded defaults (SQLite, in-process bus, file blobs)
#   pg-redis   `stella serve` on PostgreSQL (127.0.0.1:5432, a fresh database) + Redis
#              (127.0.0.1:6379, a random logical database, flushed) + file blobs
#   pg-redis-2 a second `stella serve` (own data directory and key) on the same PostgreSQL
#              database, Redis database and blob directory: two workers on one queue
# and per server set:
#   get         GET /api/v1/scans/{id} from 1 client for $GET1_SECS s, then from $CONC clients
#               for $GET_SECS s: latency, throughput
#   sequential  $JOBS scans one at a time: queue latency (started_at - created_at), worker time
#               (finished_at - started_at), client wall time, and wall minus worker time
#   throughput  $INFLIGHT scans in flight for $TPUT_SECS s: scans completed per minute (one
#               worker; then two workers for pg-redis-2)
#
# The image is the real `apps` test image (tests/images) pushed to Debian's docker-registry on
# loopback (tests/registry/start-registries.sh) and pulled over plain HTTP; every data directory
# has the PyPA OSV data set imported (so each scan also matches advisories) and its layer cache
# warmed with one `stella scan` first: the scans measured are warm-cache scans.
#
# Settings: CONC (16), GET_SECS (20), GET1_SECS (10), JOBS (50), POLL_MS (0: long polls with ?wait=), TPUT_SECS (60), INFLIGHT (4),
# BENCH_RESULTS (file for the JSON lines; default: a temp file, printed at the end),
# BENCH_SERVE_LOG (file to keep the servers' logs in), BENCH_SKIP_PG=1 (embedded only), STELLA_BIN and LOADGEN_BIN (prebuilt release binaries; both
# set: no cargo build). Needs PostgreSQL and Redis on loopback unless skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/target}"
DATA="$(cd .. && pwd)/shared/data"
CONC=${CONC:-16} GET_SECS=${GET_SECS:-20} JOBS=${JOBS:-50} POLL_MS=${POLL_MS:-0}
TPUT_SECS=${TPUT_SECS:-60} INFLIGHT=${INFLIGHT:-4} GET1_SECS=${GET1_SECS:-10}

log() { printf '[api-bench %4ss] %s\n' "$SECONDS" "$*" >&2; }

if [ -z "${STELLA_BIN:-}" ] || [ -z "${LOADGEN_BIN:-}" ]; then
  cargo build --release --locked -q -p stella-cli -p stella-loadgen
fi
STELLA=${STELLA_BIN:-$CARGO_TARGET_DIR/release/stella}
LOADGEN=${LOADGEN_BIN:-$CARGO_TARGET_DIR/release/stella-loadgen}

bash tests/images/build-test-images.sh >&2
# shellcheck disable=SC1091
. "${STELLA_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/test-images}/manifest.env"

W=$(mktemp -d)
RESULTS=${BENCH_RESULTS:-$W/results.jsonl}
: >"$RESULTS"
PIDS=()
DB_NAME="" REDIS_URL=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -f "$W/registry/registries.env" ] && bash tests/registry/stop-registries.sh "$W/registry" >/dev/null 2>&1 || true
  if [ -n "$DB_NAME" ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ -n "$REDIS_URL" ]; then redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null 2>&1 || true; fi
  if [ -z "${BENCH_RESULTS:-}" ]; then cp "$RESULTS" "${TMPDIR:-/tmp}/stella-api-bench.jsonl"; fi
  if [ -n "${BENCH_SERVE_LOG:-}" ]; then cp "$W/serve.log" "$BENCH_SERVE_LOG" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

log "registry on loopback, pushing the apps image"
REG_ENV=$(bash tests/registry/start-registries.sh --state-dir "$W/registry")
# shellcheck disable=SC1090
. "$REG_ENV"
STELLA_REGISTRY_ENV="$REG_ENV" bash tests/registry/push-image.sh \
  "oci:$OCI_LAYOUT:$OCI_TAG_APPS" "docker://$STELLA_REGISTRY_BASIC/stella-test/bookworm:apps"
IMAGE="docker://$STELLA_REGISTRY_ANON/stella-test/bookworm:apps"

log "PyPA OSV data set as all.zip"
python3 - "$DATA/osv-pypa/osv.ndjson.zst" "$W/PyPI/all.zip" <<'EOF'
import json, os, subprocess, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(dst), exist_ok=True)
out = subprocess.run(["zstd", "-dc", src], check=True, capture_output=True).stdout
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for line in out.decode().splitlines():
        if line.strip():
            r = json.loads(line)["record"]
            z.writestr(r["id"] + ".json", json.dumps(r))
EOF

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A data directory with the advisories imported and the image's layers in its cache.
prepare_data() {  # dir
  mkdir -p "$1"
  STELLA_DATA_DIR="$1" "$STELLA" feeds import osv "$W/PyPI/all.zip" -q >/dev/null
  STELLA_DATA_DIR="$1" "$STELLA" scan "$IMAGE" --format json -q >/dev/null
}

# Starts `stella serve` on a free port; sets BASE. Extra arguments go to serve.
start_serve() {  # data-dir, serve args...
  local data=$1; shift
  local port; port=$(free_port)
  STELLA_DATA_DIR="$data" \
    STELLA_RATE_LIMIT_PER_CLIENT=0 STELLA_RATE_LIMIT_PER_TENANT=0 STELLA_RATE_LIMIT_ANONYMOUS=0 RUST_LOG="${RUST_LOG:-warn}" \
    "$STELLA" serve --listen "127.0.0.1:$port" "$@" 2>>"$W/serve.log" &
  PIDS+=("$!")
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 300); do
    curl -fs "$BASE/.well-known/openid-configuration" >/dev/null 2>&1 && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$W/serve.log" >&2; return 1; }
    sleep 0.1
  done
  echo "stella serve on $BASE did not come up" >&2
  return 1
}

stop_serves() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

# Creates a client with both scanner scopes; exports its id and secret for the load generator.
make_client() {  # data-dir, extra args...
  local data=$1; shift
  local out
  out=$(STELLA_DATA_DIR="$data" "$STELLA" auth client create --tenant bench \
    --scopes scanner.scans.enqueue,scanner.scans.read --format json "$@")
  export STELLA_LOADGEN_CLIENT_ID STELLA_LOADGEN_CLIENT_SECRET
  STELLA_LOADGEN_CLIENT_ID=$(jq -r .client_id <<<"$out")
  STELLA_LOADGEN_CLIENT_SECRET=$(jq -r .client_secret <<<"$out")
}

loadgen() {  # label, mode args...
  local label=$1; shift
  log "$label: stella-loadgen $*"
  # The load average before the run: the machine is shared, so say what else was running.
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  "$LOADGEN" --base "$BASE" "$@" |
    jq -c --arg l "$label" --arg load "$load" '. + {"label": $l, "loadavg_before": $load}' |
    tee -a "$RESULTS"
}

suite() {  # label
  # One client first: the latency of a request on an otherwise idle server.
  loadgen "$1" get --image "$IMAGE" --concurrency 1 --duration-secs "$GET1_SECS"
  loadgen "$1" get --image "$IMAGE" --concurrency "$CONC" --duration-secs "$GET_SECS"
  loadgen "$1" sequential --image "$IMAGE" --jobs "$JOBS" --poll-ms "$POLL_MS"
  loadgen "$1" throughput --image "$IMAGE" --inflight "$INFLIGHT" --duration-secs "$TPUT_SECS"
}

log "embedded defaults"
prepare_data "$W/embedded"
make_client "$W/embedded"
start_serve "$W/embedded"
suite embedded
stop_serves

if [ "${BENCH_SKIP_PG:-0}" != 1 ]; then
  DB_NAME="stella_bench_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB_NAME" >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:5432/$DB_NAME"
  REDIS_URL="redis://127.0.0.1:6379/$((1 + RANDOM % 15))"
  redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
  BACKENDS=(--database-url "$PG_URL" --queue-url "$REDIS_URL" --blobs-url "file://$W/blobs")

  log "PostgreSQL + Redis ($PG_URL, $REDIS_URL), one server"
  prepare_data "$W/pg-a"
  prepare_data "$W/pg-b"
  make_client "$W/pg-a" --database-url "$PG_URL"
  start_serve "$W/pg-a" "${BACKENDS[@]}"
  BASE_A=$BASE
  suite pg-redis

  log "PostgreSQL + Redis, a second server: two workers on one queue"
  start_serve "$W/pg-b" "${BACKENDS[@]}"
  BASE=$BASE_A
  loadgen pg-redis-2 throughput --image "$IMAGE" --inflight "$INFLIGHT" --duration-secs "$TPUT_SECS"
  stop_serves
fi

log "summary"
jq -r '
  def p(x): "p50 \(x.p50) p99 \(x.p99) max \(x.max)";
  if .mode == "get" then
    "\(.label)\tget x\(.concurrency)\t\(.requests) requests, \(.throughput_rps) req/s, latency ms: \(p(.latency_ms)), statuses \(.statuses)"
  elif .mode == "sequential" then
    "\(.label)\tsequential\tqueue ms: \(p(.queue_ms)); worker ms: \(p(.worker_ms)); wall ms: \(p(.wall_ms)); overhead ms: \(p(.overhead_ms)); submit ms: \(p(.submit_ms))"
  else
    "\(.label)\tthroughput\t\(.scans_per_minute) scans/min (\(.completed) in \(.seconds) s, \(.inflight) in flight, worker ms \(p(.worker_ms)), failures \(.failures))"
  end' "$RESULTS"
log "results: ${BENCH_RESULTS:-${TMPDIR:-/tmp}/stella-api-bench.jsonl}"
