#!/usr/bin/env bash
# Set-up times in a throw-away clone (never touches this checkout's .venv or the real wheel cache):
#   cold       empty wheel cache: llama.cpp compiled (the flags in packaging/setup.sh), torch & co. installed
#   cached     a new venv with the llama.cpp wheel already cached (target: under 1 minute, downloads aside)
#   no-op      the set-up run again with nothing changed (target: under 5 seconds)
# Usage: bash benchmarks/bench_setup.sh [--keep]   (minutes of CPU: run it on an idle machine)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
[ "${1:-}" = "--keep" ] || trap 'rm -rf "$WORK"' EXIT
git -C "$ROOT" worktree add --detach "$WORK/clone" HEAD >/dev/null 2>&1 || cp -r "$ROOT" "$WORK/clone"
export XDG_CACHE_HOME="$WORK/cache"  # a private wheel cache
cd "$WORK/clone"
rm -rf .venv
time_it() {  # label, command…
  local start end ms
  start=$(date +%s%N)
  "${@:2}" >"$WORK/$1.log" 2>&1
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  printf '%-8s %6d.%01d s   (load average after: %s)\n' "$1" $((ms / 1000)) $(((ms % 1000) / 100)) \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
}
echo "$(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg) (a busy machine inflates every number)"
time_it cold bash packaging/setup.sh
rm -rf .venv
time_it cached bash packaging/setup.sh
time_it no-op bash packaging/setup.sh
command -v ccache >/dev/null && ccache -s | head -5 || echo "(ccache not installed)"
git -C "$ROOT" worktree remove --force "$WORK/clone" >/dev/null 2>&1 || true
