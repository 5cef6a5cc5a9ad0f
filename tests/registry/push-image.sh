#!/usr/bin/env bash
# Push an image to a loopback test registry with skopeo (all platforms of an index, digests kept).
#
# Usage: push-image.sh SRC DEST [extra skopeo copy arguments...]
#   SRC, DEST  containers-transports references, e.g. oci:/tmp/img:multi docker://127.0.0.1:5000/a/b:1
#   Credentials: $STELLA_REGISTRY_CREDS (user:password), else the Basic user and password from
#   $STELLA_REGISTRY_ENV (the env file start-registries.sh wrote), else none.
# Example: push-image.sh oci:/tmp/img:amd64 docker://127.0.0.1:5000/stella/hello:v2s2 --format v2s2
set -euo pipefail
src="${1:?usage: push-image.sh SRC DEST [skopeo args...]}"
dest="${2:?usage: push-image.sh SRC DEST [skopeo args...]}"
shift 2
creds="${STELLA_REGISTRY_CREDS:-}"
if [ -z "$creds" ] && [ -n "${STELLA_REGISTRY_ENV:-}" ]; then
  # shellcheck disable=SC1090
  . "$STELLA_REGISTRY_ENV"
  creds="$STELLA_REGISTRY_BASIC_USER:$STELLA_REGISTRY_BASIC_PASSWORD"
fi
args=(--command-timeout "${STELLA_PUSH_TIMEOUT:-120s}" copy --quiet --all --dest-tls-verify=false)
[ -n "$creds" ] && args+=(--dest-creds "$creds")
# Keep digests unless the caller converts formats (e.g. --format v2s2 for Docker media types).
case " $* " in *" --format "*) ;; *) args+=(--preserve-digests) ;; esac
exec skopeo "${args[@]}" "$@" "$src" "$dest"
