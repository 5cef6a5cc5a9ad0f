# shellcheck shell=bash
# Tag "apps" of the test images: "base" plus one layer per install step, made with the real
# tools (pip, npm, apt-get download + dpkg-deb, zip, cargo auditable). Sourced by
# ../build-test-images.sh, which provides OUT, B, L, W, CREATED, SOURCE_DATE_EPOCH, SUITE,
# DOCKER_REF, log, die, layers_of and inventory. See ../README.md for what ends up where.
#
# Inputs are pinned: Python by exact versions (wheels only, --no-deps), npm by the lockfile in
# npm/, Rust by exact versions; the Debian .debs are the versions first downloaded into the
# cache (delete the cache to take newer ones).

APPS_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")

# --- what goes into the image (paths are inside the image) --------------------------------------
APPS_PY_TARGET=/opt/pyapp/site-packages                  # pip install --target
APPS_PY_SITE=/usr/local/lib/python3.11/site-packages     # a second install (python:3.11 layout)
APPS_PY_PKGS_TARGET=(requests==2.25.1 urllib3==1.26.4 idna==2.10 chardet==4.0.0
  certifi==2020.12.5 Django==3.2 asgiref==3.3.4 sqlparse==0.4.1 pytz==2021.1 Jinja2==2.11.3
  MarkupSafe==2.1.2 PyYAML==6.0.1)
APPS_PY_PKGS_SITE=(urllib3==1.24.1)                      # same project, another version
# Wheels for CPython 3.11 on x86_64 only, whatever the host's python is. PyYAML 5.x and
# MarkupSafe < 2.1.2 have no cp311 wheel, hence the newer pins for those two.
APPS_PY_PLATFORM=(--only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11
  --implementation cp --abi cp311)
APPS_NPM_DIR=/srv/app                                    # npm ci of npm/package{,-lock}.json
APPS_JAVA_LIB=/opt/javaapp/lib                           # usr/share/java of these packages
APPS_JAVA_DEBS=(libcommons-lang3-java libslf4j-java libjackson2-core-java)
APPS_JAVA_FATJAR=/opt/javaapp/stella-boot-app.jar        # Spring Boot layout, nests 2 jars
APPS_JAVA_FATJAR_NESTED=(commons-lang3.jar jackson-core.jar)
APPS_GO_DEB=age                                          # Go binaries built by Debian
APPS_GO_DEB_BINS=(age age-keygen)                        # usr/bin/* -> /usr/local/bin/*
APPS_GO_TOOL_DEB=golang-go                               # for `go version -m` (not installed)
APPS_RUST_BIN=/usr/local/bin/rusty                       # cargo auditable build
APPS_CARGO_AUDITABLE_VERSION=0.7.7
APPS_PY="python3"

# --- tools ------------------------------------------------------------------------------------
apps_ensure_tools() {
  local -a missing=()
  python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  command -v zip >/dev/null 2>&1 || missing+=(zip)
  command -v unzip >/dev/null 2>&1 || missing+=(unzip)
  command -v apt-get >/dev/null 2>&1 || die "apt-get is needed for the apps image (apt-get download)"
  if ((${#missing[@]})); then
    log "installing missing tools for the apps image: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; } \
      || die "could not install: ${missing[*]}"
  fi
  command -v cargo >/dev/null 2>&1 \
    || die "cargo is needed for the apps image (Rust binary built with cargo auditable)"
}

# --- download cache (outside the clone; survives rebuilds) ----------------------------------
apps_cache_init() {
  APPS_CACHE=${STELLA_TEST_IMAGES_APPS_CACHE:-$OUT.apps-cache}
  mkdir -p "$APPS_CACHE"/{debs,pip,npm,go,cargo-auditable}
  APPS_CACHE=$(readlink -f "$APPS_CACHE")
}

# Sets APPS_DEB to the cached .deb of package $1; `apt-get download` on first use (this
# machine's apt sources). Not meant for $(...): errexit does not apply there.
apps_deb() {
  local pkg=$1 f dl
  f=$(find "$APPS_CACHE/debs" -maxdepth 1 -name "${pkg}_*.deb" | LC_ALL=C sort | tail -n 1)
  if [[ -z $f ]]; then
    log "apt-get download $pkg"
    dl=$(mktemp -d "$W/apt-dl.XXXXXX")
    chmod 755 "$dl"
    if ! (cd "$dl" && apt-get download "$pkg") >>"$W/apt-download.log" 2>&1; then
      if ! { apt-get update && (cd "$dl" && apt-get download "$pkg"); } >>"$W/apt-download.log" 2>&1; then
        tail -n 20 "$W/apt-download.log" >&2
        die "apt-get download $pkg failed"
      fi
    fi
    f=$(find "$dl" -maxdepth 1 -name "${pkg}_*.deb" | LC_ALL=C sort | tail -n 1)
    [[ -n $f ]] || die "apt-get download $pkg left no ${pkg}_*.deb"
    mv "$f" "$APPS_CACHE/debs/"
    f=$APPS_CACHE/debs/${f##*/}
  fi
  APPS_DEB=$f
}

# Sets APPS_GO to `go` from Debian's golang package, extracted into the cache (not installed),
# only to run `go version -m`.
apps_go_tool() {
  local go=$APPS_CACHE/go/bin/go dep x
  if [[ ! -x $go ]]; then
    # golang-go is a metapackage; the toolchain is its golang-1.NN-go dependency. (Output to a
    # file first: a reader that stops early fails the pipeline under pipefail.)
    if ! apt-cache depends "$APPS_GO_TOOL_DEB" >"$W/go-depends.txt" 2>/dev/null \
        || ! grep -q 'Depends: golang-1' "$W/go-depends.txt"; then
      apt-get update >>"$W/apt-download.log" 2>&1 || true
      apt-cache depends "$APPS_GO_TOOL_DEB" >"$W/go-depends.txt" 2>>"$W/apt-download.log" || true
    fi
    dep=$(awk '$1 == "Depends:" && $2 ~ /^golang-1\.[0-9]+-go$/ && !dep { dep = $2 } END { print dep }' "$W/go-depends.txt")
    [[ -n $dep ]] || die "cannot find the toolchain package of $APPS_GO_TOOL_DEB (apt-cache depends)"
    apps_deb "$dep"
    x=$W/go-x
    mkdir -p "$x"
    dpkg-deb --fsys-tarfile "$APPS_DEB" | tar -x -C "$x" --wildcards './usr/lib/go-*/bin/go'
    mkdir -p "$APPS_CACHE/go/bin"
    mv "$(find "$x" -path '*/bin/go' -type f | LC_ALL=C sort | tail -n 1)" "$go.tmp"
    mv "$go.tmp" "$go"
    rm -f "$APPS_DEB"   # 60+ MB; only the go binary is kept
  fi
  APPS_GO=$go
}

apps_cargo_auditable() {
  local root=$APPS_CACHE/cargo-auditable
  cargo install --list --root "$root" >"$W/cargo-install-list.txt" 2>/dev/null || true
  if ! grep -qxF "cargo-auditable v$APPS_CARGO_AUDITABLE_VERSION:" "$W/cargo-install-list.txt"; then
    log "cargo install cargo-auditable $APPS_CARGO_AUDITABLE_VERSION (once; cached in $root)"
    CARGO_TARGET_DIR=$W/cargo-install-target cargo install --locked --force \
      --version "$APPS_CARGO_AUDITABLE_VERSION" --root "$root" cargo-auditable \
      >"$W/cargo-install.log" 2>&1 \
      || { tail -n 30 "$W/cargo-install.log" >&2; die "cargo install cargo-auditable failed"; }
  fi
}

apps_pip() {  # pip with this machine's configuration (index, certificates, proxy)
  "$APPS_PY" -m pip --disable-pip-version-check "$@"
}

# --- layers -------------------------------------------------------------------------------------
apps_repack() {  # created_by
  umoci repack --refresh-bundle --image "$L:apps" --history.created "$CREATED" \
    --history.created_by "$1" "$W/bundle-apps"
}

apps_layer_python() {
  local root=$1 dir=$2; shift 2
  # Download once into the cache (offline if all wheels are there), then install from it only.
  apps_pip download --no-deps "${APPS_PY_PLATFORM[@]}" --no-index --find-links "$APPS_CACHE/pip" \
      -d "$APPS_CACHE/pip" "$@" >>"$W/pip.log" 2>&1 \
    || apps_pip download --no-deps "${APPS_PY_PLATFORM[@]}" -d "$APPS_CACHE/pip" "$@" >>"$W/pip.log" 2>&1 \
    || { tail -n 30 "$W/pip.log" >&2; die "pip download $* failed"; }
  "$APPS_PY" -m pip --isolated --disable-pip-version-check install --no-deps --no-index \
      --find-links "$APPS_CACHE/pip" "${APPS_PY_PLATFORM[@]}" --no-compile \
      --target "$root$dir" "$@" >>"$W/pip.log" 2>&1 \
    || { tail -n 30 "$W/pip.log" >&2; die "pip install --target $dir failed"; }
}

apps_layer_npm() {
  local root=$1 app=$W/npm-app
  mkdir -p "$app"
  cp "$APPS_DIR/npm/package.json" "$APPS_DIR/npm/package-lock.json" "$app/"
  # The lockfile pins every package; dev and optional dependencies are installed too. Scripts are
  # not run (none of these packages needs one; esbuild's would only swap its JS shim for the
  # binary).
  (cd "$app" && env -u NODE_ENV npm ci --cache "$APPS_CACHE/npm" --prefer-offline \
      --ignore-scripts --no-audit --no-fund --include=dev --include=optional --include=peer \
      --loglevel=error) >"$W/npm.log" 2>&1 \
    || { tail -n 30 "$W/npm.log" >&2; die "npm ci failed"; }
  mkdir -p "$root$APPS_NPM_DIR"
  cp -a "$app/." "$root$APPS_NPM_DIR/"
}

apps_layer_java() {
  local root=$1 pkg x=$W/java-x j v stage=$W/fatjar
  mkdir -p "$root$APPS_JAVA_LIB"
  for pkg in "${APPS_JAVA_DEBS[@]}"; do
    apps_deb "$pkg"
    rm -rf "$x" && mkdir -p "$x"
    dpkg-deb -x "$APPS_DEB" "$x"
    # Debian's jars and their versioned symlinks (e.g. commons-lang3-3.12.0.jar -> commons-lang3.jar).
    cp -a "$x/usr/share/java/." "$root$APPS_JAVA_LIB/"
  done
  # A Spring Boot style fat jar: its own pom.properties, nested jars stored (not deflated) in
  # BOOT-INF/lib/ under versioned names, as spring-boot-maven-plugin lays them out.
  mkdir -p "$stage/META-INF/maven/org.stellatest/stella-boot-app" "$stage/BOOT-INF/classes" \
    "$stage/BOOT-INF/lib"
  printf '%s\r\n' "Manifest-Version: 1.0" "Implementation-Title: stella-boot-app" \
    "Implementation-Version: 1.0.0" "Spring-Boot-Classes: BOOT-INF/classes/" \
    "Spring-Boot-Lib: BOOT-INF/lib/" "" >"$stage/META-INF/MANIFEST.MF"
  printf '%s\n' "#Stella test image" "groupId=org.stellatest" "artifactId=stella-boot-app" \
    "version=1.0.0" >"$stage/META-INF/maven/org.stellatest/stella-boot-app/pom.properties"
  printf 'greeting=hello\n' >"$stage/BOOT-INF/classes/application.properties"
  for j in "${APPS_JAVA_FATJAR_NESTED[@]}"; do
    [[ -f $root$APPS_JAVA_LIB/$j && ! -L $root$APPS_JAVA_LIB/$j ]] || die "$APPS_JAVA_LIB/$j is not a jar file"
    v=$(unzip -p "$root$APPS_JAVA_LIB/$j" 'META-INF/maven/*/pom.properties' | sed -n 's/^version=//p' | tr -d '\r' | awk 'NR == 1')
    [[ -n $v ]] || die "$j: no version in its pom.properties"
    cp "$root$APPS_JAVA_LIB/$j" "$stage/BOOT-INF/lib/${j%.jar}-$v.jar"
  done
  # Fixed entry times (SOURCE_DATE_EPOCH, UTC), so the fat jar's bytes and sha1 are the same on
  # every build with the same Debian jars.
  find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  (cd "$stage" && export TZ=UTC && zip -X -q -r "$W/fat.jar" META-INF BOOT-INF/classes \
    && zip -X -q -0 -r "$W/fat.jar" BOOT-INF/lib)
  cp "$W/fat.jar" "$root$APPS_JAVA_FATJAR"
}

apps_layer_go() {
  local root=$1 x=$W/go-deb-x b
  apps_deb "$APPS_GO_DEB"
  mkdir -p "$x" "$root/usr/local/bin"
  dpkg-deb -x "$APPS_DEB" "$x"
  for b in "${APPS_GO_DEB_BINS[@]}"; do
    cp -p "$x/usr/bin/$b" "$root/usr/local/bin/$b"
  done
}

apps_layer_rust() {
  local root=$1 src=$W/rusty
  apps_cargo_auditable
  mkdir -p "$src/src"
  # Exact pins of two dependency-free crates, so Cargo.lock is the same on every build.
  cat >"$src/Cargo.toml" <<'EOF'
[package]
name = "rusty"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
itoa = "=1.0.1"
ryu = "=1.0.5"

[profile.release]
strip = "debuginfo"

[workspace]
EOF
  cat >"$src/src/main.rs" <<'EOF'
fn main() {
    let mut i = itoa::Buffer::new();
    let mut r = ryu::Buffer::new();
    println!("rusty {} {}", i.format(42u64), r.format(1.5f64));
}
EOF
  # Offline first (the crates are usually in cargo's cache already), then with the network.
  (cd "$src" && export PATH="$APPS_CACHE/cargo-auditable/bin:$PATH" CARGO_TARGET_DIR=$W/rusty-target \
    && { cargo auditable build --release --offline >"$W/cargo.log" 2>&1 \
         || cargo auditable build --release >>"$W/cargo.log" 2>&1; }) \
    || { tail -n 30 "$W/cargo.log" >&2; die "cargo auditable build failed"; }
  cp "$W/rusty-target/release/rusty" "$root$APPS_RUST_BIN"
  cp "$src/Cargo.lock" "$W/rusty.Cargo.lock"
}

# --- expected facts, from the unpacked image ----------------------------------------------------
apps_expected_python() {  # root -> expected-apps-python.json (+ .tsv)
  local root=$1 dir
  for dir in "$APPS_PY_TARGET" "$APPS_PY_SITE"; do
    "$APPS_PY" -m pip --isolated --disable-pip-version-check list --path "$root$dir" --format=json \
      | jq --arg d "$dir" '{($d): .}'
  done | jq -S -s 'add' >"$B/expected-apps-python.json"
  jq -r 'to_entries[] | .key as $d | .value[] | [.name, .version, $d] | @tsv' \
    "$B/expected-apps-python.json" | LC_ALL=C sort >"$B/expected-apps-python.tsv"
}

apps_expected_npm() {  # root -> expected-apps-npm.json, expected-apps-npm.tsv
  local root=$1 app=$1$APPS_NPM_DIR
  (cd "$app" && env -u NODE_ENV npm ls --all --json --include=dev --include=optional \
    --include=peer) >"$B/expected-apps-npm.json" || die "npm ls --all --json failed"
  (cd "$app" && env -u NODE_ENV npm ls --all --parseable --long --include=dev \
    --include=optional --include=peer) >"$W/npm-ls.txt" || die "npm ls --parseable failed"
  # "PATH:NAME@VERSION[:FLAGS]" per installed package; the first line is the app itself.
  # Scope flags (dev, optional, devOptional, peer) come from the lockfile entry of that path.
  awk -v app="$app" 'index($0, app ":") != 1 { print }' "$W/npm-ls.txt" \
    | while IFS= read -r line; do
        path=${line%%:*} rest=${line#*:}; spec=${rest%%:*}
        rel=${path#"$app"/}
        printf '%s\t%s\t%s\t%s\n' "${spec%@*}" "${spec##*@}" "$APPS_NPM_DIR/$rel" "$rel"
      done >"$W/npm-ls.tsv"
  jq -r --rawfile ls "$W/npm-ls.tsv" '
      .packages as $p
      | $ls | split("\n")[] | select(length > 0) | split("\t")
      | . as [$n, $v, $path, $rel]
      | ([("dev", "optional", "devOptional", "peer") | select($p[$rel][.] == true)] | join(",")) as $f
      | [$n, $v, $path, (if $f == "" then "-" else $f end)] | @tsv' \
    "$app/package-lock.json" | LC_ALL=C sort -t$'\t' -k3,3 -u | LC_ALL=C sort >"$B/expected-apps-npm.tsv"
}

# Every jar below $2 of the rootfs: "groupId artifactId version path sha1" per pom.properties,
# nested archives read from their bytes (extracted to a temp file for unzip).
apps_java_archive() {  # file location
  local file=$1 loc=$2 sha entries e props n=0 tmp
  sha=$(sha1sum <"$file" | cut -d' ' -f1)
  entries=$(unzip -Z1 "$file") || die "$loc: not a zip archive"
  while IFS= read -r e; do
    case $e in
      META-INF/maven/*/*/pom.properties)
        props=$(unzip -p "$file" "$e" | tr -d '\r')
        printf '%s\t%s\t%s\t%s\t%s\n' "$(sed -n 's/^groupId=//p' <<<"$props")" \
          "$(sed -n 's/^artifactId=//p' <<<"$props")" "$(sed -n 's/^version=//p' <<<"$props")" \
          "$loc" "$sha"
        n=$((n + 1)) ;;
      *.jar | *.war | *.ear)
        tmp=$(mktemp "$W/nested.XXXXXX")
        unzip -p "$file" "$e" >"$tmp"
        apps_java_archive "$tmp" "$loc!/$e"
        rm -f "$tmp" ;;
    esac
  done <<<"$entries"
  ((n > 0)) || die "$loc has no META-INF/maven/*/*/pom.properties"
}

apps_expected_java() {  # root
  local root=$1 f
  find "$root" -type f \( -name '*.jar' -o -name '*.war' -o -name '*.ear' \) -print0 \
    | LC_ALL=C sort -z >"$W/jars.lst"
  while IFS= read -r -d '' f; do
    apps_java_archive "$f" "${f#"$root"}"
  done <"$W/jars.lst" | LC_ALL=C sort >"$B/expected-apps-java.tsv"
}

apps_expected_go() {  # root: `go version -m` over the whole rootfs, checked by facts.py
  local root=$1
  apps_go_tool
  mkdir -p "$W/goroot"
  GOROOT=$W/goroot GOFLAGS='' GOTOOLCHAIN=local "$APPS_GO" version -m "$root" >"$W/go-version-m.txt" \
    || die "go version -m failed"
  "$APPS_PY" "$APPS_DIR/facts.py" go-version-m "$root" <"$W/go-version-m.txt" >"$B/expected-apps-go.tsv"
  "$APPS_PY" "$APPS_DIR/facts.py" go "$root" >"$W/go-facts.tsv"
  cmp -s "$B/expected-apps-go.tsv" "$W/go-facts.tsv" \
    || { diff "$B/expected-apps-go.tsv" "$W/go-facts.tsv" >&2; die "go version -m and facts.py disagree"; }
}

apps_expected_rust() {  # root
  local root=$1
  "$APPS_PY" "$APPS_DIR/facts.py" cargo-lock "$W/rusty.Cargo.lock" "$APPS_RUST_BIN" \
    >"$B/expected-apps-rust.tsv"
  "$APPS_PY" "$APPS_DIR/facts.py" rust-audit "$root" "$APPS_RUST_BIN" >"$W/rust-audit.tsv"
  cmp -s "$B/expected-apps-rust.tsv" "$W/rust-audit.tsv" \
    || { diff "$B/expected-apps-rust.tsv" "$W/rust-audit.tsv" >&2; die "Cargo.lock and the binary's cargo-auditable data disagree"; }
}

# --- checks ---------------------------------------------------------------------------------------
apps_check() {
  local root=$1 want got n
  # Exactly the pinned Python distributions, where they were installed.
  want=$( { for s in "${APPS_PY_PKGS_TARGET[@]}"; do printf '%s\t%s\n' "${s%%==*}=${s#*==}" "$APPS_PY_TARGET"; done
            for s in "${APPS_PY_PKGS_SITE[@]}"; do printf '%s\t%s\n' "${s%%==*}=${s#*==}" "$APPS_PY_SITE"; done; } \
          | tr 'A-Z_.' 'a-z--' | LC_ALL=C sort)
  got=$(awk -F'\t' '{ print $1 "=" $2 "\t" $3 }' "$B/expected-apps-python.tsv" | tr 'A-Z_.' 'a-z--' | LC_ALL=C sort)
  [[ $want == "$got" ]] || die "pip list differs from the pins: $(diff <(echo "$want") <(echo "$got"))"
  n=$(find "$root" -name '*.dist-info' -type d | grep -cvE "^$root($APPS_PY_TARGET|$APPS_PY_SITE)/" || true)
  ((n == 0)) || die "$n .dist-info directories outside the two site-packages directories"
  # npm: every package.json below node_modules is under the app, the tree is complete.
  n=$(find "$root" -path '*/node_modules/*' -name package.json | grep -cv "^$root$APPS_NPM_DIR/" || true)
  ((n == 0)) || die "$n node_modules/**/package.json outside $APPS_NPM_DIR"
  [[ $(jq -r '.problems // [] | length' "$B/expected-apps-npm.json") == 0 ]] \
    || die "npm ls reports problems: $(jq -c .problems "$B/expected-apps-npm.json")"
  grep -qP '^lodash\t4\.17\.15\t/srv/app/node_modules/lodash\t-$' "$B/expected-apps-npm.tsv" \
    || die "expected-apps-npm.tsv lacks lodash 4.17.15"
  grep -qP '^mocha\t8\.0\.0\t/srv/app/node_modules/mocha\tdev$' "$B/expected-apps-npm.tsv" \
    || die "expected-apps-npm.tsv lacks mocha 8.0.0 marked dev"
  # Java: the fat jar's nested jars are there.
  [[ $(grep -cF "$APPS_JAVA_FATJAR!/BOOT-INF/lib/" "$B/expected-apps-java.tsv") -eq ${#APPS_JAVA_FATJAR_NESTED[@]} ]] \
    || die "fat jar: expected ${#APPS_JAVA_FATJAR_NESTED[@]} nested jars in expected-apps-java.tsv"
  # Go: the Debian binaries and esbuild's; Rust: the root crate and its two dependencies.
  for b in "${APPS_GO_DEB_BINS[@]}"; do
    grep -qP "^/usr/local/bin/$b\tgo\t" "$B/expected-apps-go.tsv" || die "no Go build info for $b"
  done
  grep -qP '\tdep\t' "$B/expected-apps-go.tsv" || die "no Go binary with dependencies"
  [[ $(wc -l <"$B/expected-apps-rust.tsv") -eq 3 ]] || die "expected 3 crates in expected-apps-rust.tsv"
  # No dpkg change: the apps image has the base inventory.
  inventory "$root" | cmp -s - "$B/expected-base.tsv" || die "apps-rootfs dpkg inventory differs from base"
  # Layers: base's own layer, then one per step; the copies in the bundle match the image.
  [[ $(layers_of "$L" apps | sed -n 1p) == "$(layers_of "$L" base)" ]] || die "apps does not start with base's layer"
  for d in "$APPS_PY_TARGET" "$APPS_PY_SITE" "$APPS_NPM_DIR" /opt/javaapp; do
    diff -r --no-dereference "$W/bundle-apps/rootfs$d" "$root$d" >/dev/null \
      || die "$d differs between the build bundle and the unpacked apps image"
  done
  tar tf "$B/apps-docker-archive.tar" >"$W/apps-docker-archive.txt"
  grep -qx manifest.json "$W/apps-docker-archive.txt" || die "apps-docker-archive.tar has no manifest.json"
}

# --- all of it ----------------------------------------------------------------------------------
apps_build() {
  local AR
  apps_cache_init
  log "apps image (downloads cached in $APPS_CACHE)"
  umoci unpack --image "$L:base" "$W/bundle-apps" >/dev/null
  AR=$W/bundle-apps/rootfs

  log "apps: pip install --target $APPS_PY_TARGET (${#APPS_PY_PKGS_TARGET[@]} wheels)"
  apps_layer_python "$AR" "$APPS_PY_TARGET" "${APPS_PY_PKGS_TARGET[@]}"
  apps_repack "pip install --no-deps --target $APPS_PY_TARGET ${APPS_PY_PKGS_TARGET[*]}"
  log "apps: pip install --target $APPS_PY_SITE ${APPS_PY_PKGS_SITE[*]}"
  apps_layer_python "$AR" "$APPS_PY_SITE" "${APPS_PY_PKGS_SITE[@]}"
  apps_repack "pip install --no-deps --target $APPS_PY_SITE ${APPS_PY_PKGS_SITE[*]}"
  log "apps: npm ci -> $APPS_NPM_DIR"
  apps_layer_npm "$AR"
  apps_repack "npm ci (package.json, package-lock.json) in $APPS_NPM_DIR"
  log "apps: jars of ${APPS_JAVA_DEBS[*]} -> $APPS_JAVA_LIB; fat jar $APPS_JAVA_FATJAR"
  apps_layer_java "$AR"
  apps_repack "dpkg-deb -x ${APPS_JAVA_DEBS[*]}: usr/share/java -> $APPS_JAVA_LIB; zip $APPS_JAVA_FATJAR"
  log "apps: Go binaries of Debian's $APPS_GO_DEB -> /usr/local/bin"
  apps_layer_go "$AR"
  apps_repack "dpkg-deb -x $APPS_GO_DEB: ${APPS_GO_DEB_BINS[*]} -> /usr/local/bin"
  log "apps: cargo auditable build -> $APPS_RUST_BIN"
  apps_layer_rust "$AR"
  apps_repack "cargo auditable build --release (itoa, ryu) -> $APPS_RUST_BIN"
  umoci config --image "$L:apps" --no-history --created "$CREATED"
  umoci gc --layout "$L"

  log "apps: skopeo copy -> apps-docker-archive.tar; umoci unpack -> apps-rootfs"
  skopeo --insecure-policy copy --quiet "oci:$L:apps" \
    "docker-archive:$B/apps-docker-archive.tar:$DOCKER_REF:apps"
  umoci unpack --image "$L:apps" "$W/unpack-apps" >/dev/null
  mv "$W/unpack-apps/rootfs" "$B/apps-rootfs"

  log "apps: expected package sets (pip list, npm ls, pom.properties, go version -m, Cargo.lock)"
  apps_expected_python "$B/apps-rootfs"
  apps_expected_npm "$B/apps-rootfs"
  apps_expected_java "$B/apps-rootfs"
  apps_expected_go "$B/apps-rootfs"
  apps_expected_rust "$B/apps-rootfs"
  apps_check "$B/apps-rootfs"
  log "apps: python $(wc -l <"$B/expected-apps-python.tsv"), npm $(wc -l <"$B/expected-apps-npm.tsv"), java $(wc -l <"$B/expected-apps-java.tsv") pom.properties, go $(grep -cP '\tgo\t' "$B/expected-apps-go.tsv") binaries, rust $(wc -l <"$B/expected-apps-rust.tsv") crates"
}

apps_required_outputs() {  # $1 = $OUT/$SUITE
  printf '%s\n' "$1/apps-rootfs/srv/app/package.json" "$1/apps-docker-archive.tar" \
    "$1/expected-apps-python.json" "$1/expected-apps-python.tsv" "$1/expected-apps-npm.json" \
    "$1/expected-apps-npm.tsv" "$1/expected-apps-java.tsv" "$1/expected-apps-go.tsv" \
    "$1/expected-apps-rust.tsv"
}

apps_manifest() {  # $1 = final $OUT/$SUITE; KEY VALUE pairs for manifest.env
  local fb=$1 gobins
  gobins=$(cut -f1 "$B/expected-apps-go.tsv" | LC_ALL=C sort -u | paste -sd:)
  printf '%s\n' \
    APPS_TAG apps \
    OCI_TAG_APPS apps \
    APPS_ROOTFS "$fb/apps-rootfs" \
    APPS_DOCKER_ARCHIVE "$fb/apps-docker-archive.tar" \
    APPS_DOCKER_ARCHIVE_REF "$DOCKER_REF:apps" \
    EXPECTED_APPS_PYTHON "$fb/expected-apps-python.json" \
    EXPECTED_APPS_PYTHON_TSV "$fb/expected-apps-python.tsv" \
    EXPECTED_APPS_NPM "$fb/expected-apps-npm.json" \
    EXPECTED_APPS_NPM_TSV "$fb/expected-apps-npm.tsv" \
    EXPECTED_APPS_JAVA "$fb/expected-apps-java.tsv" \
    EXPECTED_APPS_GO "$fb/expected-apps-go.tsv" \
    EXPECTED_APPS_RUST "$fb/expected-apps-rust.tsv" \
    APPS_PYTHON_TARGET_DIR "$APPS_PY_TARGET" \
    APPS_PYTHON_SITE_DIR "$APPS_PY_SITE" \
    APPS_NPM_DIR "$APPS_NPM_DIR" \
    APPS_JAVA_LIB_DIR "$APPS_JAVA_LIB" \
    APPS_JAVA_FATJAR "$APPS_JAVA_FATJAR" \
    APPS_GO_BINS "$gobins" \
    APPS_RUST_BIN "$APPS_RUST_BIN"
}
