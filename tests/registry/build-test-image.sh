#!/usr/bin/env bash
# Build Stella's small registry test images as one OCI image layout, with umoci.
#
# Usage: build-test-image.sh OUT_DIR
# Tags in OUT_DIR (an OCI layout, usable as oci:OUT_DIR:TAG with skopeo):
#   amd64   linux/amd64 image: one layer with /etc/stella-test/hello and /etc/os-release
#   arm64   linux/arm64 (variant v8) image, same files with other contents
#   multi   an OCI image index of the two, with their platforms
# Timestamps are fixed (SOURCE_DATE_EPOCH, default 2020-01-01) so repeated builds give the same
# digests.
set -euo pipefail
out="${1:?usage: build-test-image.sh OUT_DIR}"
command -v umoci >/dev/null || { echo "build-test-image.sh: umoci not found (apt-get install umoci)" >&2; exit 3; }

epoch="${SOURCE_DATE_EPOCH:-1577836800}"
created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
umoci init --layout "$out"
for arch in amd64 arm64; do
  mkdir -p "$work/$arch/etc/stella-test"
  printf 'hello from linux/%s\n' "$arch" >"$work/$arch/etc/stella-test/hello"
  printf 'ID=stella-test\nNAME="Stella test image"\nVERSION_ID=1\n' >"$work/$arch/etc/os-release"
  touch -d "@$epoch" "$work/$arch/etc/stella-test/hello" "$work/$arch/etc/os-release" \
    "$work/$arch/etc/stella-test" "$work/$arch/etc"
  umoci new --image "$out:$arch"
  umoci insert --rootless --image "$out:$arch" --history.created "$created" \
    --history.created_by "build-test-image.sh" "$work/$arch/etc" /etc
  umoci config --image "$out:$arch" --os linux --architecture "$arch" --created "$created" \
    --config.cmd /bin/sh --no-history
done

# The image index: umoci writes single-platform manifests only, so this one is written here.
descriptor() { # tag -> "digest size"
  local entry
  entry="$(tr -d '\n ' <"$out/index.json" | grep -o "{[^{}]*\"digest\":\"sha256:[0-9a-f]*\"[^{}]*{[^{}]*\"org.opencontainers.image.ref.name\":\"$1\"}}")"
  local digest size
  digest="$(printf '%s' "$entry" | grep -o 'sha256:[0-9a-f]*' | head -n1)"
  size="$(printf '%s' "$entry" | grep -o '"size":[0-9]*' | head -n1 | cut -d: -f2)"
  echo "$digest $size"
}
read -r amd_digest amd_size <<<"$(descriptor amd64)"
read -r arm_digest arm_size <<<"$(descriptor arm64)"
if [ -z "$amd_digest" ] || [ -z "$arm_digest" ]; then
  echo "build-test-image.sh: could not read manifests from $out/index.json" >&2; exit 1
fi
index='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['
index+="{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$amd_digest\",\"size\":$amd_size,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
index+="{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$arm_digest\",\"size\":$arm_size,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}"
index+=']}'
index_digest="sha256:$(printf '%s' "$index" | sha256sum | cut -d' ' -f1)"
printf '%s' "$index" >"$out/blobs/sha256/${index_digest#sha256:}"
index_size="$(printf '%s' "$index" | wc -c)"
top="$(cat "$out/index.json")"
top="${top%]*}"
top+=",{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"$index_digest\",\"size\":$index_size,\"annotations\":{\"org.opencontainers.image.ref.name\":\"multi\"}}]}"
printf '%s' "$top" >"$out/index.json"
umoci gc --layout "$out"
echo "$out"
