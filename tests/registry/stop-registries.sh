#!/usr/bin/env bash
# Stop the registries that start-registries.sh started from a state dir.
# Usage: stop-registries.sh [DIR]   (DIR defaults as in start-registries.sh)
set -euo pipefail
state_dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/stella/registry}"
[ -f "$state_dir/pids" ] || exit 0
while read -r pid; do
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
done <"$state_dir/pids"
rm -f "$state_dir/pids"
