#!/usr/bin/env bash
# Advisory ingest and index benchmarks on the real data sets in ../shared/data.
#
#   bash bench/feeds.sh            # prints a Markdown table for BENCHMARKS.md
#
# Builds the release binary, lays each data set out as its upstream publishes it (OSV
# `<Ecosystem>/all.zip`, the Debian tracker JSON, Alpine secdb, NVD API pages, CVE 5 records,
# CSAF advisories, KEV, EPSS) in a scratch folder, then times `stella feeds import` of each
# into one fresh store (/usr/bin/time: wall time and peak RSS), and finally the index load
# (`stella advisory show`, which loads and indexes the whole snapshot). Offline.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/target}"
DATA="$(cd .. && pwd)/shared/data"
cargo build --release --locked -q -p stella-cli
STELLA="$CARGO_TARGET_DIR/release/stella"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
M="$W/mirror"
mkdir -p "$M"

python3 - "$DATA" "$M" <<'EOF'
import json, subprocess, sys, zipfile, os
data, m = sys.argv[1], sys.argv[2]
def ndjson(rel):
    out = subprocess.run(["zstd", "-dc", f"{data}/{rel}"], check=True, capture_output=True).stdout
    return [json.loads(l)["record"] for l in out.decode().splitlines() if l.strip()]
def write_zip(eco, records):
    os.makedirs(f"{m}/osv/{eco}", exist_ok=True)
    with zipfile.ZipFile(f"{m}/osv/{eco}/all.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for r in records:
            z.writestr(r["id"] + ".json", json.dumps(r))
write_zip("PyPI", ndjson("osv-pypa/osv.ndjson.zst"))
write_zip("Go", ndjson("osv-golang-vulndb/osv.ndjson.zst"))
write_zip("crates.io", ndjson("osv-rustsec/osv.ndjson.zst"))
ghsa = {}
for l in open(f"{data}/osv-records-from-scanner-testdata/osv-records.ndjson"):
    r = json.loads(l)["record"]
    if r.get("id", "").startswith("GHSA-"):
        ghsa[r["id"]] = r
write_zip("GHSA", list(ghsa.values()))
EOF
mkdir -p "$M/cve5" "$M/nvd" "$M/csaf"
zstd -dc "$DATA/cve5-vulnrichment/cve-records.tar.zst" | tar -x -C "$M/cve5"
cp "$DATA"/nvd-api2-samples/vunnel/tests/unit/providers/nvd/test-fixtures/full-page.json "$M/nvd/"
cp -r "$DATA/csaf-vex-examples/csaf_2.0/examples/csaf" "$M/csaf/examples"
find "$DATA/csaf-vex-examples" -path '*redhat-from-vunnel*' -name '*.json' -exec cp {} "$M/csaf/" \;

store="$W/store"
row() {  # name, records-jq-path, args...
  local name=$1; shift
  local out="$W/$name.json"
  /usr/bin/time -f '%e %M' -o "$W/time" env STELLA_DATA_DIR="$store" "$STELLA" feeds import "$@" --format json -q >"$out" 2>"$W/err" || true
  read -r secs kb < <(tail -n 1 "$W/time")
  local recs docs errs
  recs=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(s["records"] for s in r["sources"]))' "$out")
  docs=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(s["documents"] for s in r["sources"]))' "$out")
  errs=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(len(s["errors"]) for s in r["sources"]))' "$out")
  local rate
  rate=$(python3 -c "print(f'{$recs/max($secs,0.001):,.0f}')")
  printf '| %s | %s | %s | %s | %s s | %s | %s MB |\n' "$name" "$docs" "$recs" "$errs" "$secs" "$rate" "$((kb / 1024))"
}

echo "| data set | documents | records | errors | wall | records/s | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
row "OSV PyPI (all.zip)" osv "$M/osv/PyPI/all.zip"
row "OSV Go (all.zip)" osv "$M/osv/Go/all.zip"
row "OSV crates.io (all.zip)" osv "$M/osv/crates.io/all.zip"
row "OSV GHSA sample (all.zip)" osv "$M/osv/GHSA/all.zip"
row "Debian tracker JSON" debian "$DATA/vunnel-provider-fixtures/tests/unit/providers/debian/test-fixtures/input/debian.json"
row "Alpine secdb v3.3-v3.11" alpine "$DATA/alpine-secdb"
row "NVD API 2.0 page" nvd "$M/nvd"
row "CVE JSON 5 (vulnrichment)" cve5 "$M/cve5"
row "CSAF 2.0" csaf "$M/csaf"
row "CISA KEV" kev "$DATA/cisa-kev/known_exploited_vulnerabilities.json"
row "FIRST EPSS" epss "$DATA/vunnel-provider-fixtures/tests/unit/providers/epss/test-fixtures/example-1.csv"
echo
echo "Store after all imports: $(du -sh "$store/advisories.sqlite" | cut -f1) ($(STELLA_DATA_DIR="$store" "$STELLA" feeds status --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapshot"]["records"])') live records)"
/usr/bin/time -f '%e %M' -o "$W/time" env STELLA_DATA_DIR="$store" "$STELLA" advisory show CVE-2021-44228 >/dev/null 2>&1 || true
read -r secs kb < <(tail -n 1 "$W/time")
echo "Index load of the whole snapshot (advisory show): ${secs} s, peak RSS $((kb / 1024)) MB"
# A re-import of unchanged data writes nothing.
/usr/bin/time -f '%e' -o "$W/time" env STELLA_DATA_DIR="$store" "$STELLA" feeds import osv "$M/osv/PyPI/all.zip" -q --format json >"$W/again.json"
echo "Re-import of the unchanged PyPI all.zip: $(cat "$W/time") s, rows written: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows_written"])' "$W/again.json")"

# A full scan with findings of the apps image (tests/images), against the whole store, warm
# layer cache: the cost matching adds to a scan is the index load plus the match.
IMAGES="${STELLA_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/test-images}"
if [[ -f $IMAGES/manifest.env ]]; then
  layout=$(sed -n 's/^OCI_LAYOUT=//p' "$IMAGES/manifest.env")
  tag=$(sed -n 's/^OCI_TAG_APPS=//p' "$IMAGES/manifest.env")
  target="oci:$layout:$tag"
  STELLA_DATA_DIR="$store" "$STELLA" scan "$target" -q --no-vulns >/dev/null  # warm the cache
  for mode in "--no-vulns" ""; do
    best=""
    for _ in 1 2 3 4 5; do
      /usr/bin/time -f '%e %M' -o "$W/time" env STELLA_DATA_DIR="$store" "$STELLA" scan "$target" -q --format json $mode >"$W/scan.json"
      read -r secs kb < <(tail -n 1 "$W/time")
      if [[ -z $best ]] || python3 -c "import sys; sys.exit(0 if $secs < $best else 1)"; then best=$secs; rss=$kb; fi
    done
    n=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r.get("findings", [])))' "$W/scan.json")
    echo "scan of the apps image ${mode:-with findings}: best of 5 ${best} s, peak RSS $((rss / 1024)) MB, ${n} findings"
  done
fi
