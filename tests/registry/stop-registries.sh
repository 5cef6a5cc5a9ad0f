#!/usr/bin/env bash
# Stop the registries that start-registries.sh started from a state dir.
# Usage: stop-registries.sh [DIR]   (DIR defaults as in start-registries.sh)
set -euo pipefail
state_dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/registry}"
state_dir="$(cd "$state_dir" 2>/dev/null && pwd)" || exit 0
[ -f "$state_dir/pids" ] || exit 0
while read -r pid; do
  # Only a registry serving this state dir: a stale pid may have been reused since.
  if [ -n "$pid" ] && grep -qaF "$state_dir/" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
  fi
done <"$state_dir/pids"
rm -f "$state_dir/pids"
