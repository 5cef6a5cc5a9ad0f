#!/usr/bin/env bash
# Build Stella's test images from real Debian packages (see tests/images/README.md).
#
# Output: ${STELLA_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/test-images}
#   manifest.env                   shell-sourceable KEY=VALUE list of everything below
#   bookworm/rootfs/               debootstrap --variant=minbase (dpkg database intact)
#   bookworm/whiteout-rootfs/      umoci unpack of tag "whiteout"
#   bookworm/oci/                  OCI layout, tags: base, whiteout, zstd, opaque[, opaque-notrailer], apps
#   bookworm/docker-archive.tar    docker-archive of "whiteout"
#   bookworm/docker-archive-base.tar  docker-archive of "base"
#   bookworm/oci-archive.tar       oci-archive of "whiteout"
#   bookworm/expected-*.tsv        dpkg-query inventories (Package, Version, Architecture)
#   bookworm/removed-package.txt, bookworm/deleted-file.txt, bookworm/opaque-dir.txt
#   bookworm/apps-rootfs/          umoci unpack of tag "apps" (base + Python, npm, Java, Go, Rust
#                                  layers made with pip, npm, dpkg-deb, zip, cargo auditable)
#   bookworm/apps-docker-archive.tar  docker-archive of "apps"
#   bookworm/expected-apps-*       what the ecosystems' own tools report for "apps" (apps/apps.sh)
#
# Needs root (debootstrap, chroot for dpkg maintainer scripts, ownership in layers).
# No container engine is used. Reruns are no-ops while this script and apps/ are unchanged and
# the outputs exist (stamp = sha256 of this file and of the files in apps/). The whole output
# directory is built in a sibling temp directory and renamed into place, so an interrupted run
# leaves no half image.
#
# Environment:
#   STELLA_TEST_IMAGES         output directory (see above)
#   STELLA_DEBIAN_MIRROR       Debian mirror URI; default: read from this machine's apt sources
#   STELLA_TEST_IMAGES_DEBS    debootstrap .deb cache (default: "$STELLA_TEST_IMAGES.debs")
#   STELLA_TEST_IMAGES_APPS_CACHE  downloads for tag "apps": .debs, wheels, npm cache, go tool,
#                              cargo-auditable (default: "$STELLA_TEST_IMAGES.apps-cache")
#   STELLA_TEST_IMAGES_FORCE=1 rebuild even if the stamp matches
#   STELLA_TEST_IMAGES_KEEP_FAILED=1  keep the temp dir of a failed build for inspection
#   SOURCE_DATE_EPOCH          image "created" time (default 1704067200 = 2024-01-01T00:00:00Z)
set -euo pipefail

SUITE=bookworm
ARCH=amd64
REMOVE_PKG=e2fsprogs      # leaf, non-Essential package in minbase (dpkg refuses if anything depends on it)
DELETE_FILE=/etc/motd     # plain file written by base-files' postinst, not in any dpkg .list
OPAQUE_DIR=/etc/skel      # replaced by an opaque directory in tag "opaque"
OPAQUE_FILE=README.stella # the only entry of $OPAQUE_DIR in tag "opaque"
DOCKER_REF="stella-test/$SUITE"
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}

SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
# shellcheck source=apps/apps.sh
. "$(dirname "$SCRIPT")/apps/apps.sh"
OUT=${STELLA_TEST_IMAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/test-images}
OUT=${OUT%/}
START=$SECONDS

log()  { printf '[test-images %4ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
die()  { printf '[test-images] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "[test-images] ERROR: command failed (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
ensure_tools() {
  local -a missing=()
  local pair cmd pkg
  for pair in debootstrap:debootstrap umoci:umoci skopeo:skopeo dpkg:dpkg dpkg-query:dpkg \
              zstd:zstd jq:jq tar:tar gzip:gzip sha256sum:coreutils chroot:coreutils \
              flock:util-linux findmnt:util-linux gpgv:gpgv wget:wget; do
    cmd=${pair%%:*} pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing missing tools: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
      || { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; } \
      || die "could not install: ${missing[*]}"
  else
    die "missing tools (packages: ${missing[*]}); run as root on a Debian-like system or install them"
  fi
}

# ---------------------------------------------------------------------------------------------
# Debian mirror from this machine's apt configuration (never hard-coded)
# Prints "URI<TAB>SIGNED-BY" of the first enabled "deb" source for $SUITE (or, failing that, the
# first non-security "deb" source).
# ---------------------------------------------------------------------------------------------
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk '
      /^[ \t]*deb[ \t]/ {
        i = 2; signed = ""
        if ($2 ~ /^\[/) {                      # [ option=value ... ]
          for (; i <= NF; i++) {
            opt = $i; gsub(/[\[\]]/, "", opt)
            if (opt ~ /^signed-by=/) { sub(/^signed-by=/, "", opt); signed = opt }
            if ($i ~ /\]$/) { i++; break }
          }
        }
        print $i "\t" $(i + 1) "\t" signed
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "")
          { n = split(uris, u, " "); m = split(suites, s, " ")
            for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a] "\t" s[b] "\t" signed }
        types = uris = suites = signed = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        line = $0; key = tolower(line); sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val
        else if (key == "uris") uris = val
        else if (key == "suites") suites = val
        else if (key == "signed-by") signed = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
}

detect_mirror() {
  if [[ -n ${STELLA_DEBIAN_MIRROR:-} ]]; then
    printf '%s\t\n' "$STELLA_DEBIAN_MIRROR"
    return
  fi
  local all
  all=$(apt_sources)
  awk -F'\t' -v s="$SUITE" '$2 == s { print $1 "\t" $3; found = 1; exit }
    END { if (!found) exit 1 }' <<<"$all" \
  || awk -F'\t' '$2 !~ /security/ && $1 ~ /^(https?|file):/ { print $1 "\t" $3; found = 1; exit }
    END { if (!found) exit 1 }' <<<"$all" \
  || die "no Debian mirror found in /etc/apt/sources.list{,.d}; set STELLA_DEBIAN_MIRROR"
}

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
# Digest (without "sha256:") of the manifest tagged $2 in OCI layout $1.
manifest_of() {
  jq -er --arg t "$2" \
    '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$1/index.json" | sed 's/^sha256://'
}
blob() { printf '%s/blobs/sha256/%s' "$1" "${2#sha256:}"; }
# "mediaType<TAB>digest" of each layer of tag $2 in layout $1.
layers_of() { jq -r '.layers[] | "\(.mediaType)\t\(.digest)"' "$(blob "$1" "$(manifest_of "$1" "$2")")"; }

inventory() {  # $1 = rootfs
  dpkg-query --admindir="$1/var/lib/dpkg" -W -f '${Package}\t${Version}\t${Architecture}\n' \
    | LC_ALL=C sort
}

# Unmount anything still mounted below $1 (debootstrap bind-mounts /dev, /proc, /sys when run
# in a container) and delete it without crossing filesystem boundaries.
safe_rm() {
  local d=$1 m
  [[ -e $d ]] || return 0
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | awk -v p="$d/" 'index($0, p) == 1' | sort -r)
  rm -rf --one-file-system "$d"
}

required_outputs() {
  local b=$OUT/$SUITE
  printf '%s\n' "$OUT/manifest.env" "$b/rootfs/var/lib/dpkg/status" \
    "$b/whiteout-rootfs/var/lib/dpkg/status" "$b/oci/index.json" "$b/docker-archive.tar" \
    "$b/docker-archive-base.tar" "$b/oci-archive.tar" "$b/expected-base.tsv" \
    "$b/expected-whiteout.tsv" "$b/removed-package.txt" "$b/deleted-file.txt"
  apps_required_outputs "$b"
}

# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
[[ $EUID -eq 0 ]] || die "must run as root (debootstrap, chroot, file ownership in layers)"
ensure_tools
[[ $(dpkg --print-architecture) == "$ARCH" ]] \
  || die "this script builds $ARCH images natively; host is $(dpkg --print-architecture)"

# Content only (stdin, so no path in the output): the same script in another clone is up to date.
HASH=$( { sha256sum <"$SCRIPT"
          (cd "$APPS_DIR" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); } \
        | sha256sum | cut -d' ' -f1)
mkdir -p "$(dirname "$OUT")"
exec 9>"$OUT.lock"
if ! flock -n 9; then
  log "another build holds $OUT.lock; waiting"
  flock 9
fi

if [[ ${STELLA_TEST_IMAGES_FORCE:-0} != 1 && -f $OUT/.stamp && $(<"$OUT/.stamp") == "$HASH" ]]; then
  ok=1
  while read -r f; do [[ -e $f ]] || { ok=0; log "missing $f; rebuilding"; break; }; done \
    < <(required_outputs)
  if ((ok)); then
    log "up to date: $OUT (stamp $HASH)"
    exit 0
  fi
fi

apps_ensure_tools

# Leftovers of killed runs (we hold the lock, so nobody else is using them).
for stale in "$OUT".tmp.* "$OUT".old.*; do
  if [[ -e $stale ]]; then
    log "removing stale $stale"
    safe_rm "$stale"
  fi
done

TMP=$(mktemp -d "$OUT.tmp.XXXXXX")
on_exit() {
  local rc=$?
  if [[ $rc -ne 0 && ${STELLA_TEST_IMAGES_KEEP_FAILED:-0} == 1 ]]; then
    log "build failed; kept $TMP for inspection (remove it by hand or rerun)"
  else
    safe_rm "$TMP"
  fi
}
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT TERM
TREE=$TMP/tree          # becomes $OUT
B=$TREE/$SUITE
W=$TMP/work             # scratch, deleted with $TMP
L=$B/oci
mkdir -p "$B" "$W"

CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
mirror_line=$(detect_mirror)
IFS=$'\t' read -r MIRROR SIGNED_BY <<<"$mirror_line" || true
[[ -n $MIRROR ]] || die "empty mirror URI"

DEBS=${STELLA_TEST_IMAGES_DEBS:-$OUT.debs}
mkdir -p "$DEBS"
DEBS=$(readlink -f "$DEBS")

# apt's proxy settings, if any, for debootstrap's wget.
if command -v apt-config >/dev/null 2>&1; then
  APT_HTTP_PROXY='' APT_HTTPS_PROXY=''
  eval "$(apt-config shell APT_HTTP_PROXY Acquire::http::Proxy APT_HTTPS_PROXY Acquire::https::Proxy)"
  if [[ -n $APT_HTTP_PROXY && -z ${http_proxy:-} ]]; then export http_proxy=$APT_HTTP_PROXY; fi
  if [[ -n $APT_HTTPS_PROXY && -z ${https_proxy:-} ]]; then export https_proxy=$APT_HTTPS_PROXY; fi
fi

log "building into $TMP (final: $OUT)"
log "suite $SUITE/$ARCH, mirror from apt config: $MIRROR, created $CREATED"

# --- 1. base image: debootstrap straight into an (empty) umoci bundle, repack as one layer ---
umoci init --layout "$L"
umoci new --image "$L:base"
umoci unpack --image "$L:base" "$W/bundle-base" >/dev/null
ROOT=$W/bundle-base/rootfs

keyring=()
if [[ -n $SIGNED_BY && -f $SIGNED_BY ]]; then keyring=(--keyring="$SIGNED_BY"); fi
log "debootstrap --variant=minbase $SUITE (debs cached in $DEBS)"
if ! debootstrap --variant=minbase --arch="$ARCH" --cache-dir="$DEBS" "${keyring[@]}" \
      "$SUITE" "$ROOT" "$MIRROR" >"$W/debootstrap.log" 2>&1; then
  tail -n 40 "$W/debootstrap.log" >&2
  if [[ -f $ROOT/debootstrap/debootstrap.log ]]; then tail -n 40 "$ROOT/debootstrap/debootstrap.log" >&2; fi
  die "debootstrap failed (log above)"
fi
log "debootstrap done: $(inventory "$ROOT" | wc -l) packages"

# Non-reproducible / host-derived noise. The dpkg database stays intact.
for m in dev proc sys; do
  mountpoint -q "$ROOT/$m" && die "$ROOT/$m is still mounted after debootstrap"
done
find "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/run" "$ROOT/tmp" -mindepth 1 -delete
rm -f "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin \
      "$ROOT/var/log/bootstrap.log" "$ROOT/etc/resolv.conf" "$ROOT/etc/hostname"
find "$ROOT/var/lib/apt/lists" -mindepth 1 -maxdepth 1 ! -name partial -exec rm -rf {} +
[[ -f $ROOT$DELETE_FILE ]] || die "$DELETE_FILE does not exist in the rootfs; pick another file"
dpkg-query --admindir="$ROOT/var/lib/dpkg" -W "$REMOVE_PKG" >/dev/null 2>&1 \
  || die "package $REMOVE_PKG is not installed in minbase; pick another"

log "umoci repack base (1 layer, gzip)"
umoci repack --image "$L:base" --history.created "$CREATED" \
  --history.created_by "debootstrap --variant=minbase $SUITE" "$W/bundle-base"
umoci config --image "$L:base" --no-history --created "$CREATED" --os linux \
  --architecture "$ARCH" --config.cmd /bin/bash \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mv "$ROOT" "$B/rootfs"
inventory "$B/rootfs" >"$B/expected-base.tsv"

# --- 2. whiteout image: second layer deletes a file and purges a whole package ---------------
umoci unpack --image "$L:base" "$W/bundle-wh" >/dev/null
WROOT=$W/bundle-wh/rootfs
log "deleting $DELETE_FILE; dpkg --purge $REMOVE_PKG"
rm -- "$WROOT$DELETE_FILE"
# Real dpkg: removes the files in info/PKG.list, info/PKG.* and the status entry, and runs the
# maintainer scripts in a chroot. It refuses (and we fail) if anything installed depends on PKG.
# Maintainer scripts write to /dev/null; without a device node there the shell would create a
# regular file that ends up in the layer. Provide one for the duration of the purge only.
touch -r "$WROOT/dev" "$W/dev.mtime"
mknod -m 666 "$WROOT/dev/null" c 1 3
DEBIAN_FRONTEND=noninteractive PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  dpkg --root="$WROOT" --log="$WROOT/var/log/dpkg.log" --purge "$REMOVE_PKG" >"$W/dpkg-purge.log" 2>&1 \
  || { cat "$W/dpkg-purge.log" >&2; die "dpkg --purge $REMOVE_PKG failed"; }
rm -f "$WROOT/dev/null"
touch -r "$W/dev.mtime" "$WROOT/dev"   # keep /dev out of the layer
inventory "$WROOT" >"$W/expected-whiteout-from-bundle.tsv"
log "umoci repack whiteout (2nd layer)"
umoci repack --image "$L:whiteout" --history.created "$CREATED" \
  --history.created_by "rm $DELETE_FILE && dpkg --purge $REMOVE_PKG" "$W/bundle-wh"
umoci config --image "$L:whiteout" --no-history --created "$CREATED"

# --- 3. opaque image: whiteout + a third layer replacing $OPAQUE_DIR with an opaque dir -------
# umoci repack never writes opaque markers (a deleted-and-recreated directory gives one .wh.
# entry per lower file), so the layer comes from `umoci insert --opaque`. umoci 0.4.7 (Debian
# bookworm) does not close the tar writer in insert (upstream issue #436, fixed by PR #534): the
# layer lacks the last member's padding and the end-of-archive blocks, and GNU tar rejects it.
# Then the tag "opaque" gets that same tar with the padding and the two zero blocks appended
# (exactly what tar.Writer.Close adds), via `umoci raw add-layer`, and the unrepaired image stays
# as tag "opaque-notrailer" (such layers exist in the wild; scanners should cope).
mkdir -p "$W/opaque"
printf 'This directory is opaque in the image; lower-layer entries are hidden.\n' \
  >"$W/opaque/$OPAQUE_FILE"
log "umoci insert --opaque $OPAQUE_DIR"
umoci insert --image "$L:whiteout" --tag opaque-raw --opaque --history.created "$CREATED" \
  --history.created_by "replace $OPAQUE_DIR (opaque)" "$W/opaque" "$OPAQUE_DIR"
gzip -dc "$(blob "$L" "$(layers_of "$L" opaque-raw | sed -n 3p | cut -f2)")" >"$W/opaque-layer.tar"
if tar tf "$W/opaque-layer.tar" >/dev/null 2>&1; then
  umoci tag --image "$L:opaque-raw" opaque
  OPAQUE_NOTRAILER_TAG=
else
  log "umoci insert wrote a tar without end-of-archive blocks; repairing it for tag opaque"
  size=$(stat -c %s "$W/opaque-layer.tar")
  head -c "$(( (512 - size % 512) % 512 + 1024 ))" /dev/zero >>"$W/opaque-layer.tar"
  tar tf "$W/opaque-layer.tar" >/dev/null || die "could not repair the umoci insert layer"
  umoci raw add-layer --image "$L:whiteout" --tag opaque --history.created "$CREATED" \
    --history.created_by "replace $OPAQUE_DIR (opaque)" "$W/opaque-layer.tar"
  OPAQUE_NOTRAILER_TAG=opaque-notrailer
  umoci tag --image "$L:opaque-raw" "$OPAQUE_NOTRAILER_TAG"
  umoci config --image "$L:$OPAQUE_NOTRAILER_TAG" --no-history --created "$CREATED"
fi
umoci rm --image "$L:opaque-raw"
umoci config --image "$L:opaque" --no-history --created "$CREATED"
umoci gc --layout "$L"

# --- 4. zstd image: base with its layer recompressed -----------------------------------------
log "skopeo copy base -> zstd (recompress)"
# Via a separate layout: copying within one layout lets skopeo reuse the gzip blob it finds there.
skopeo --insecure-policy copy --quiet --dest-compress-format zstd "oci:$L:base" "oci:$W/zstd:zstd"
skopeo --insecure-policy copy --quiet --dest-compress-format zstd "oci:$W/zstd:zstd" "oci:$L:zstd"

# --- 4b. apps image: base + one layer per install step (apps/apps.sh) ------------------------
apps_build

# --- 5. archives ----------------------------------------------------------------------------
log "skopeo copy -> docker-archive / oci-archive"
skopeo --insecure-policy copy --quiet "oci:$L:whiteout" \
  "docker-archive:$B/docker-archive.tar:$DOCKER_REF:whiteout"
skopeo --insecure-policy copy --quiet "oci:$L:base" \
  "docker-archive:$B/docker-archive-base.tar:$DOCKER_REF:base"
skopeo --insecure-policy copy --quiet "oci:$L:whiteout" "oci-archive:$B/oci-archive.tar:whiteout"

# --- 6. whiteout rootfs as the image really unpacks, and its inventory -----------------------
log "umoci unpack whiteout -> whiteout-rootfs"
umoci unpack --image "$L:whiteout" "$W/unpack-wh" >/dev/null
mv "$W/unpack-wh/rootfs" "$B/whiteout-rootfs"
inventory "$B/whiteout-rootfs" >"$B/expected-whiteout.tsv"
printf '%s\n' "$REMOVE_PKG" >"$B/removed-package.txt"
printf '%s\n' "$DELETE_FILE" >"$B/deleted-file.txt"
printf '%s\n' "$OPAQUE_DIR" >"$B/opaque-dir.txt"

# --- 7. self-checks -------------------------------------------------------------------------
log "checking"
cmp -s "$B/expected-whiteout.tsv" "$W/expected-whiteout-from-bundle.tsv" \
  || die "inventory of unpacked whiteout image differs from the modified bundle"
diff_lines=$(diff "$B/expected-base.tsv" "$B/expected-whiteout.tsv" | grep -E '^[<>]' || true)
[[ $(wc -l <<<"$diff_lines") -eq 1 && $diff_lines == "< $REMOVE_PKG"$'\t'* ]] \
  || die "expected TSVs should differ by exactly $REMOVE_PKG, got: $diff_lines"
[[ ! -e $B/whiteout-rootfs$DELETE_FILE && ! -L $B/whiteout-rootfs$DELETE_FILE ]] \
  || die "$DELETE_FILE still present in whiteout-rootfs"
if compgen -G "$B/whiteout-rootfs/var/lib/dpkg/info/$REMOVE_PKG.*" >/dev/null; then
  die "dpkg info files of $REMOVE_PKG still present in whiteout-rootfs"
fi

check_layers() {  # tag count mediatype-regex
  local got
  got=$(layers_of "$L" "$1" | cut -f1)
  [[ $(wc -l <<<"$got") -eq $2 ]] || die "tag $1: expected $2 layers, got: $got"
  if grep -qvE "$3" <<<"$got"; then die "tag $1: unexpected layer media type(s): $got"; fi
}
check_layers base 1 'tar\+gzip$'
check_layers whiteout 2 'tar\+gzip$'
check_layers opaque 3 'tar\+gzip$'
check_layers zstd 1 'tar\+zstd$'
check_layers apps 7 'tar\+gzip$'
zstd -q -t "$(blob "$L" "$(layers_of "$L" zstd | cut -f2)")" || die "zstd layer does not decompress"

wh_layer=$(blob "$L" "$(layers_of "$L" whiteout | sed -n 2p | cut -f2)")
# Listings go to files first: `producer | grep -q` fails under pipefail when grep exits early.
tar tzf "$wh_layer" | sed 's#^\./##; s#^/##' >"$W/layer2.txt"
if grep -qx "${DELETE_FILE#/}" "$W/layer2.txt"; then die "layer 2 re-adds $DELETE_FILE"; fi
if grep -q '^dev/' "$W/layer2.txt"; then die "layer 2 touches /dev"; fi
del=${DELETE_FILE#/}
grep -qx "${del%/*}/\.wh\.${del##*/}" "$W/layer2.txt" \
  || die "layer 2 has no whiteout for $DELETE_FILE"
grep -q "/\.wh\.$REMOVE_PKG\.list\$" "$W/layer2.txt" \
  || die "layer 2 has no whiteout for var/lib/dpkg/info/$REMOVE_PKG.list"
op_layer=$(blob "$L" "$(layers_of "$L" opaque | sed -n 3p | cut -f2)")
tar tzf "$op_layer" >"$W/layer3.txt" || die "opaque layer is not a valid tar"
grep -q "${OPAQUE_DIR#/}/\.wh\.\.wh\.\.opq\$" "$W/layer3.txt" \
  || die "opaque layer has no ${OPAQUE_DIR#/}/.wh..wh..opq"
umoci unpack --image "$L:opaque" "$W/unpack-op" >/dev/null
[[ $(ls -A "$W/unpack-op/rootfs$OPAQUE_DIR") == "$OPAQUE_FILE" ]] \
  || die "unpacked opaque image: $OPAQUE_DIR should hold only $OPAQUE_FILE, has: $(ls -A "$W/unpack-op/rootfs$OPAQUE_DIR")"
tar tf "$B/docker-archive.tar" >"$W/docker-archive.txt"
grep -qx manifest.json "$W/docker-archive.txt" || die "docker-archive.tar has no manifest.json"
tar tf "$B/oci-archive.tar" >"$W/oci-archive.txt"
grep -qx index.json "$W/oci-archive.txt" || die "oci-archive.tar has no index.json"

# --- 8. manifest, stamp, atomic rename ------------------------------------------------------
FB=$OUT/$SUITE
{
  echo "# Generated by tests/images/build-test-images.sh; source this file."
  printf '%s=%q\n' \
    STELLA_TEST_IMAGES "$OUT" \
    SUITE "$SUITE" \
    ARCH "$ARCH" \
    CREATED "$CREATED" \
    ROOTFS "$FB/rootfs" \
    WHITEOUT_ROOTFS "$FB/whiteout-rootfs" \
    OCI_LAYOUT "$FB/oci" \
    OCI_TAG_BASE base \
    OCI_TAG_WHITEOUT whiteout \
    OCI_TAG_ZSTD zstd \
    OCI_TAG_OPAQUE opaque \
    OCI_TAG_OPAQUE_NOTRAILER "$OPAQUE_NOTRAILER_TAG" \
    DOCKER_ARCHIVE "$FB/docker-archive.tar" \
    DOCKER_ARCHIVE_REF "$DOCKER_REF:whiteout" \
    DOCKER_ARCHIVE_BASE "$FB/docker-archive-base.tar" \
    DOCKER_ARCHIVE_BASE_REF "$DOCKER_REF:base" \
    OCI_ARCHIVE "$FB/oci-archive.tar" \
    OCI_ARCHIVE_TAG whiteout \
    EXPECTED_BASE "$FB/expected-base.tsv" \
    EXPECTED_WHITEOUT "$FB/expected-whiteout.tsv" \
    REMOVED_PACKAGE "$FB/removed-package.txt" \
    REMOVED_PACKAGE_NAME "$REMOVE_PKG" \
    DELETED_FILE "$FB/deleted-file.txt" \
    DELETED_FILE_PATH "$DELETE_FILE" \
    OPAQUE_DIR "$FB/opaque-dir.txt" \
    OPAQUE_DIR_PATH "$OPAQUE_DIR" \
    OPAQUE_DIR_ONLY_ENTRY "$OPAQUE_FILE"
  apps_kv=$(apps_manifest "$FB")
  mapfile -t apps_kv <<<"$apps_kv"
  printf '%s=%q\n' "${apps_kv[@]}"
} >"$TREE/manifest.env"
printf '%s\n' "$HASH" >"$TREE/.stamp"

safe_rm "$W"
if [[ -e $OUT ]]; then
  mv "$OUT" "$OUT.old.$$"
fi
mv "$TREE" "$OUT"
safe_rm "$OUT.old.$$"
log "done: $OUT ($(du -sh "$OUT" | cut -f1)); base $(wc -l <"$OUT/$SUITE/expected-base.tsv") packages, whiteout $(wc -l <"$OUT/$SUITE/expected-whiteout.tsv")"
