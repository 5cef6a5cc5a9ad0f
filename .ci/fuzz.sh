#!/usr/bin/env bash
# Bounded fuzzing of Stella's parsers with cargo-fuzz (libFuzzer), on the stable toolchain.
#
#   bash .ci/fuzz.sh                      # every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=300 bash .ci/fuzz.sh rpmdb layer
#
# Installs cargo-fuzz if missing, builds every target of fuzz/ with sanitizer-coverage only
# (`-s none`: stable rustc has no -Zsanitizer), seeds each corpus from real files (the shared
# fixtures in ../shared/data and a few files of this machine, copied at run time, never
# committed), runs each target for a bounded time and fails if any target crashed, hung or ran
# out of memory, naming the target and the input that did it. See fuzz/README.md.
#
# Environment:
#   FUZZ_SECONDS      seconds per target (default 20)
#   FUZZ_TIMEOUT      seconds one input may take before it counts as a hang (default 10)
#   FUZZ_RSS_MB       memory limit of a target process in MiB (default 2048)
#   FUZZ_TARGET_DIR   cargo target dir of the instrumented build
#                     (default ${XDG_CACHE_HOME:-$HOME/.cache}/stella/fuzz-target; never the main
#                     one, whose artifacts the coverage flags would otherwise rebuild)
#   STELLA_SHARED_DATA  the shared fixtures (default ../shared/data beside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CARGO_FUZZ_VERSION=0.13.2
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
# Always our own directory, even when the caller (.ci/run) exported the main CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/fuzz-target}"
export CARGO_TERM_COLOR=never
DATA=${STELLA_SHARED_DATA:-$ROOT/../shared/data}
CORPUS=$ROOT/fuzz/corpus
ARTIFACTS=$ROOT/fuzz/artifacts
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
BIN_DIR=$CARGO_TARGET_DIR/$TRIPLE/release

step() { printf '\n==> %s\n' "$*"; }
now() { date +%s; }
t_start=$(now)

ALL_TARGETS=(rpmdb layer os_analyzers os_release version version_order feeds)
if (($#)); then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

step "cargo-fuzz"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi
cargo fuzz --version

step "build (sanitizer-coverage, no sanitizer; target dir $CARGO_TARGET_DIR)"
if ! cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null 2>&1; then
  echo "warning: fuzz/Cargo.lock is out of date with the crates (cargo updates it now);"
  echo "         commit the updated fuzz/Cargo.lock"
fi
t0=$(now)
# Same options as any `cargo fuzz run -s none` later, so that command reuses this build.
(cd fuzz && cargo fuzz build -s none)
t_build=$(($(now) - t0))
echo "build: ${t_build}s"

# ---------------------------------------------------------------------------------------------
step "seed corpora (fixtures copied at run time)"
have_data=1
[[ -d $DATA ]] || { echo "warning: $DATA not found; fuzzing from empty corpora"; have_data=0; }
GO_RPMDB=$DATA/fixtures-go-rpmdb/src/pkg/testdata
TRIVY=$DATA/fixtures-trivy-parsers/src/pkg
PARSERS=$TRIVY/dependency/parser
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

# seed TARGET FILE...: copies each existing regular file into the target's corpus, named by
# content hash (libFuzzer's own naming, so reruns add nothing twice).
seed() {
  local target=$1 f h
  shift
  mkdir -p "$CORPUS/$target"
  for f in "$@"; do
    [[ -f $f ]] || continue
    h=$(sha1sum "$f" | cut -c1-40)
    [[ -e $CORPUS/$target/$h ]] || cp "$f" "$CORPUS/$target/$h"
  done
}

# seed_prefixed TARGET BYTE FILE...: like seed, with one leading byte (the target's selector).
seed_prefixed() {
  local target=$1 byte=$2 f
  shift 2
  for f in "$@"; do
    [[ -f $f ]] || continue
    { printf '%b' "\\0$(printf '%03o' "$byte")"; cat "$f"; } >"$SCRATCH/prefixed"
    seed "$target" "$SCRATCH/prefixed"
  done
}

# Index of PATH in fuzz/os_analyzers.paths (the os_analyzers selector byte).
mapfile -t OS_PATHS < <(grep -v '^[[:space:]]*#' fuzz/os_analyzers.paths | sed '/^[[:space:]]*$/d')
os_seed() {
  local path=$1 i
  shift
  for i in "${!OS_PATHS[@]}"; do
    if [[ ${OS_PATHS[$i]} == "$path" ]]; then
      seed_prefixed os_analyzers "$i" "$@"
      return
    fi
  done
  echo "fuzz.sh: $path is not in fuzz/os_analyzers.paths" >&2
  exit 2
}

# A small SQLite rpmdb cut from the CBL-Mariner fixture (3.6 MB, past libFuzzer's 1 MiB input
# cap): same schema, first three package headers.
small_sqlite=$SCRATCH/rpmdb.sqlite
if ((have_data)) && [[ -f $GO_RPMDB/cbl-mariner-2.0/rpmdb.sqlite ]]; then
  python3 - "$GO_RPMDB/cbl-mariner-2.0/rpmdb.sqlite" "$small_sqlite" <<'PY'
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"):
    dst.execute(sql)
dst.executemany("INSERT INTO Packages (hnum, blob) VALUES (?, ?)",
                src.execute("SELECT hnum, blob FROM Packages ORDER BY hnum LIMIT 3"))
dst.commit()
dst.execute("VACUUM")
dst.close()
PY
fi

# The dpkg database of this machine, cut to its first 30 packages.
small_status=$SCRATCH/status
if [[ -f /var/lib/dpkg/status ]]; then
  awk 'BEGIN { RS = ""; ORS = "\n\n" } NR <= 30' /var/lib/dpkg/status >"$small_status"
fi

# A small jar: manifest, pom.properties and a nested jar, as Maven and Spring Boot write them.
small_jar=$SCRATCH/x.jar
python3 - "$small_jar" <<'PY'
import io, sys, zipfile
def jar(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()
inner = jar([
    ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nImplementation-Title: inner\r\n"
                             "Implementation-Version: 2.1\r\n\r\n"),
    ("META-INF/maven/org.example/inner/pom.properties",
     "groupId=org.example\nartifactId=inner\nversion=2.1\n"),
])
outer = jar([
    ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.example.app\r\n"
                             "Bundle-Version: 1.0.0\r\n\r\n"),
    ("META-INF/maven/org.example/app/pom.properties",
     "groupId=org.example\nartifactId=app\nversion=1.0.0\n"),
    ("BOOT-INF/lib/inner-2.1.jar", inner),
])
open(sys.argv[1], "wb").write(outer)
PY

# --- rpmdb
if ((have_data)); then
  seed rpmdb "$GO_RPMDB/blob.bin" "$GO_RPMDB/libuuid/Packages" "$GO_RPMDB/sle15-bci/Packages.db" \
    "$small_sqlite"
fi

# --- layer: real tar streams (GNU, PAX and ustar headers; links, whiteouts, an opaque dir, a
# long name), plain, gzip and zstd, from real package-database files.
tree=$SCRATCH/tree
mkdir -p "$tree/var/lib/dpkg" "$tree/lib/apk/db" "$tree/etc/skel" "$tree/usr/lib" \
  "$tree/opt/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})"
[[ -f $small_status ]] && cp "$small_status" "$tree/var/lib/dpkg/status"
if ((have_data)); then cp "$TRIVY/fanal/analyzer/pkg/apk/testdata/apk" "$tree/lib/apk/db/installed" || true; fi
[[ -f /usr/lib/os-release ]] && cp /usr/lib/os-release "$tree/usr/lib/os-release"
ln -s ../usr/lib/os-release "$tree/etc/os-release"
echo hello >"$tree/opt/$(printf 'd%.0s' {1..60})/$(printf 'e%.0s' {1..60})/long-named-file"
ln "$tree/var/lib/dpkg/status" "$tree/var/lib/dpkg/status-hardlink" 2>/dev/null || true
: >"$tree/etc/.wh.motd"
: >"$tree/etc/skel/.wh..wh..opq"
chmod -R u+w "$tree"
for fmt in gnu pax ustar; do
  # ustar cannot hold the long name; tar skips it with a warning.
  tar --format=$fmt --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1704067200 \
    -C "$tree" -cf "$SCRATCH/layer-$fmt.tar" . 2>/dev/null || true
done
gzip -9nc "$SCRATCH/layer-gnu.tar" >"$SCRATCH/layer-gnu.tar.gz"
if command -v zstd >/dev/null; then
  zstd -q -19 -c "$SCRATCH/layer-pax.tar" >"$SCRATCH/layer-pax.tar.zst"
fi
seed layer "$SCRATCH"/layer-*

# --- os_analyzers: each file under the path its analyzer reads it from.
os_seed var/lib/dpkg/status "$small_status"
os_seed var/lib/dpkg/info/libc6:amd64.list /var/lib/dpkg/info/libc6:amd64.list
os_seed usr/share/doc/libc6/copyright /usr/share/doc/libc6/copyright
os_seed var/lib/rpm/rpmdb.sqlite "$small_sqlite"
os_seed app/x.jar "$small_jar"
os_seed usr/bin/tool /usr/bin/true
os_seed srv/app/Cargo.lock "$ROOT/fuzz/Cargo.lock"
for h in /root/.pyenv/versions/*/include/python3.*/patchlevel.h; do
  os_seed usr/local/include/python3.11/patchlevel.h "$h"
  break
done
for r in /usr/lib/python3/dist-packages/*.dist-info/RECORD; do
  os_seed usr/lib/python3/dist-packages/x-1.0.dist-info/RECORD "$r"
  break
done
for g in /usr/share/rubygems-integration/all/specifications/*.gemspec; do
  os_seed usr/local/bundle/specifications/x-1.0.gemspec "$g"
done
os_seed usr/local/include/node/node_version.h /usr/include/node/node_version.h \
  /usr/local/include/node/node_version.h
if ((have_data)); then
  os_seed usr/share/doc/libc6/copyright "$TRIVY"/fanal/analyzer/pkg/dpkg/testdata/*-copyright
  os_seed lib/apk/db/installed "$TRIVY/fanal/analyzer/pkg/apk/testdata/apk"
  os_seed var/lib/rpm/Packages "$GO_RPMDB/libuuid/Packages"
  os_seed srv/app/go.mod "$PARSERS"/golang/mod/testdata/*/go.mod "$PARSERS/golang/mod/testdata/no-go-version/gomod"
  os_seed srv/app/go.sum "$PARSERS"/golang/mod/testdata/*/go.sum "$PARSERS"/golang/sum/testdata/*.sum
  os_seed srv/app/Cargo.lock "$PARSERS"/rust/cargo/testdata/*.lock
  os_seed srv/app/node_modules/x/package.json "$PARSERS"/nodejs/packagejson/testdata/*.json
  os_seed srv/app/package-lock.json "$PARSERS"/nodejs/npm/testdata/*.json
  os_seed srv/app/yarn.lock "$PARSERS"/nodejs/yarn/testdata/*.lock
  os_seed srv/app/pnpm-lock.yaml "$PARSERS"/nodejs/pnpm/testdata/*.yaml
  os_seed usr/lib/python3/dist-packages/x-1.0.dist-info/METADATA "$PARSERS"/python/packaging/testdata/*.METADATA
  os_seed usr/lib/python3/dist-packages/x-1.0.egg-info/PKG-INFO "$PARSERS"/python/packaging/testdata/*.PKG-INFO
  os_seed usr/lib/python3/dist-packages/x-1.0-py3.11.egg-info "$PARSERS"/python/packaging/testdata/*-py3.9.egg-info
  os_seed app/poetry.lock "$PARSERS"/python/poetry/testdata/*.lock
  os_seed app/Pipfile.lock "$PARSERS"/python/pipenv/testdata/*.lock
  os_seed app/uv.lock "$PARSERS"/python/uv/testdata/*.lock
  os_seed app/requirements.txt "$PARSERS"/python/pip/testdata/*.txt
  os_seed app/Gemfile.lock "$PARSERS"/ruby/bundler/testdata/*.lock
  os_seed app/composer.lock "$PARSERS"/php/composer/testdata/*.lock
  os_seed app/app.deps.json "$PARSERS"/dotnet/core_deps/testdata/*.deps.json
  os_seed app/packages.lock.json "$PARSERS"/nuget/lock/testdata/*.json
fi

# --- feeds: real documents of each feed; the selector is the index in FeedSource::ALL
# (osv, debian, alpine, nvd, cve5, csaf, kev, epss).
if ((have_data)); then
  seed_prefixed feeds 0 "$DATA"/osv-dev-fixtures/gcp/website/testdata/osv/*.json \
    "$DATA"/osv-cran-r/vulns/*/*.yaml
  seed_prefixed feeds 1 "$DATA/vunnel-provider-fixtures/tests/unit/providers/debian/test-fixtures/input/debian.json" \
    "$DATA/osv-dev-fixtures/vulnfeeds/test_data/debian/debian_security_tracker_mock.json"
  seed_prefixed feeds 2 "$DATA"/alpine-secdb/v3.3/*.yaml \
    "$DATA/vunnel-provider-fixtures/tests/unit/providers/wolfi/test-fixtures/input/secdb/security.json"
  seed_prefixed feeds 3 "$DATA"/nvd-api2-samples/osv.dev/vulnfeeds/test_data/nvdcve-2.0/CVE-2024-3094.json \
    "$DATA/nvd-api2-samples/vunnel/tests/unit/providers/nvd/test-fixtures/single-entry.json"
  seed_prefixed feeds 4 "$DATA"/cve5-vulnrichment/sample/*/*/*.json
  seed_prefixed feeds 5 "$DATA"/csaf-vex-examples/csaf_2.0/examples/csaf/*.json
  seed_prefixed feeds 7 "$DATA"/vunnel-provider-fixtures/tests/unit/providers/epss/test-fixtures/*.csv
fi

# --- os_release
seed os_release /etc/os-release /usr/lib/os-release /etc/lsb-release /etc/debian_version
if ((have_data)); then
  seed os_release "$TRIVY"/fanal/analyzer/os/release/testdata/* \
    "$TRIVY"/fanal/analyzer/os/debian/testdata/*/etc/debian_version \
    "$TRIVY"/fanal/analyzer/os/redhatbase/testdata/*/*-release \
    "$TRIVY"/fanal/analyzer/os/ubuntu/testdata/lsb-release
fi

# --- version, version_order: one pair (or triple) per ecosystem in its own syntax; the index
# is the position in stella_version::Ecosystem::ALL.
vseed() { # vseed INDEX TEXT: TEXT is printf-escaped ('\n' separates the parts)
  printf '%b%b' "\\0$(printf '%03o' "$1")" "$2" >"$SCRATCH/v"
  seed version "$SCRATCH/v"
  seed version_order "$SCRATCH/v"
}
vseed 0 '1:2.36-9+deb12u4\n>= 2.36-9, << 2.37'      # Debian
vseed 0 '1.0~rc1-1\n1.0-1\n1.0+b1-1'
vseed 1 '1.2.3_rc1-r0\n>=1.2.3-r0 <2'                # Alpine
vseed 1 '3.0.8-r3\n3.0.8_p1-r0\n~3.0'
vseed 2 '1:1.0^git1-2.el9\n>= 1.0-1, < 2'            # Rpm
vseed 2 '2.34-60.el9_2.7\n2.34~rc1-1\n0:2.34-61'
vseed 3 '1.2.3-beta.1+build.5\n^1.2 || >=2 <3'       # Npm
vseed 3 '1.0.0-alpha\n1.0.0-alpha.1\n1.0.0'
vseed 4 '1.0.post1.dev2+local.7\n>=1.0,!=1.3.*,<2'   # PyPI
vseed 4 '1!2.0rc1\n2.0.0a1\n~=1.4.5'
vseed 5 '1.0-alpha-1-SNAPSHOT\n[1.0,2.0)'            # Maven
vseed 5 '1.0.RELEASE\n1-sp1\n(,1.0],[1.2,)'
vseed 6 '1.2.3.pre1\n~> 1.2, >= 1.2.3'               # RubyGems
vseed 6 '1.0.a\n1.0.0\n1.0.b1'
vseed 7 'v1.2.3-0.20240101000000-abcdef123456\n>=v1.2.0 <v1.4.0'  # Go
vseed 7 'v2.0.0+incompatible\nv0.0.0-pre\nv1.0.0'
vseed 8 '1.0.0-rc.1+meta\n[1.0,2.0)'                 # NuGet
vseed 8 '1.0.0.0\n1.*\n(,1.0]'
vseed 9 'v1.2.3-beta2\n^1.2 || >=2.0 <3.0'           # Packagist
vseed 9 'dev-master\n1.0.0-RC1\n1.0 - 2.0'
vseed 10 '1.2.3-alpha.1+git\n>=1, <2'                # CratesIo
vseed 10 '0.0.1\n0.0.1-0\n~1.2'

for t in "${TARGETS[@]}"; do
  mkdir -p "$CORPUS/$t"
  printf '%-14s %4s seed/corpus files\n' "$t" "$(find "$CORPUS/$t" -type f | wc -l)"
done

# ---------------------------------------------------------------------------------------------
step "fuzz ${FUZZ_SECONDS}s per target: ${TARGETS[*]}"
failed=()
t0=$(now)
for t in "${TARGETS[@]}"; do
  bin=$BIN_DIR/$t
  [[ -x $bin ]] || { echo "no fuzz binary $bin (unknown target?)"; failed+=("$t:missing"); continue; }
  mkdir -p "$ARTIFACTS/$t"
  log=$ARTIFACTS/$t/last-run.log
  echo "--- $t"
  rc=0
  # -timeout: one input running longer is a hang (an endless loop in a parser is a bug too).
  # -rss_limit_mb: a process past it is an out-of-memory finding. libFuzzer caps input length at
  # 1 MiB, or at the largest seed if smaller.
  "$bin" "$CORPUS/$t" \
    -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
    -artifact_prefix="$ARTIFACTS/$t/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E 'wants none of' "$log" | sort -u | sed 's/^/  warning: /' || true
  grep -E '^(INFO: (seed corpus|Loaded)|#[0-9]+ +(INITED|DONE)|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))' "$log" | sed 's/^/  /' || true
  if ((rc != 0)); then
    failed+=("$t")
    echo "FAILED: target $t (libFuzzer exit code $rc); log: $log"
    # The finding: panic message and the top of the backtrace, then the input.
    grep -E -m1 -A12 "panicked at|ERROR: libFuzzer|==ERROR" "$log" | sed 's/^/  | /' || tail -n 30 "$log"
    while read -r input; do
      echo "  input: $input ($(stat -c %s "$input") bytes)"
      if (($(stat -c %s "$input") <= 256)); then
        echo "  hex:   $(od -An -v -tx1 "$input" | tr -d ' \n')"
      fi
      echo "  reproduce: (cd fuzz && cargo fuzz run -s none $t $input)"
    done < <(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
  fi
done
t_run=$(($(now) - t0))

step "summary"
echo "build ${t_build}s, fuzzing ${t_run}s, total $(($(now) - t_start))s"
if ((${#failed[@]})); then
  echo "fuzz targets that failed: ${failed[*]} (inputs under $ARTIFACTS)"
  exit 1
fi
echo "no crashes in: ${TARGETS[*]}"
