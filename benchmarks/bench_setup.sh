#!/usr/bin/env bash
# Set-up times in a throw-away clone (never touches this checkout's .venv, the real wheel cache or uv's cache):
#   cold       empty caches: llama.cpp compiled (the flags in packaging/setup.sh), every package downloaded
#              and unpacked into uv's cache (with --llama-wheel: the llama.cpp wheel is already cached)
#   cached     a new venv with everything cached (the llama.cpp wheel, uv's packages): target under 1 minute;
#              run --runs times (default 3), each into a new venv
#   no-op      the set-up run again with nothing changed (target: under 5 seconds)
# Usage: bash benchmarks/bench_setup.sh [--keep] [--llama-wheel] [--runs N]   (minutes of CPU and, cold, GBs
#   of downloads: run it on an idle machine). --llama-wheel copies this machine's cached llama.cpp wheel
#   (~/.cache/studio/wheels, built by an earlier set-up) into the private cache, so the cold run skips the
#   ~5-minute compile. STUDIO_INSTALLER=pip bash benchmarks/bench_setup.sh times pip's path instead of uv's.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEEP=0 LLAMA_WHEEL=0 RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --llama-wheel) LLAMA_WHEEL=1 ;;
    --runs) RUNS="${2:?--runs needs a number}"; shift ;;
    *) echo "usage: bash benchmarks/bench_setup.sh [--keep] [--llama-wheel] [--runs N]" >&2; exit 2 ;;
  esac
  shift
done
WORK="$(mktemp -d)"
[ "$KEEP" = 1 ] || trap 'git -C "$ROOT" worktree remove --force "$WORK/clone" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
git -C "$ROOT" worktree add --detach "$WORK/clone" HEAD >/dev/null 2>&1 || cp -r "$ROOT" "$WORK/clone"
if [ "$LLAMA_WHEEL" = 1 ]; then
  mkdir -p "$WORK/cache/studio"
  cp -r "${XDG_CACHE_HOME:-$HOME/.cache}/studio/wheels" "$WORK/cache/studio/"
fi
export XDG_CACHE_HOME="$WORK/cache"  # a private wheel cache, and uv's cache inside it
unset UV_CACHE_DIR
cd "$WORK/clone"
rm -rf .venv
time_it() {  # label, command…  (prints the seconds; also keeps them in $WORK/<label>.s)
  local start end ms
  start=$(date +%s%N)
  "${@:2}" >"$WORK/$1.log" 2>&1
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  printf '%d.%01d\n' $((ms / 1000)) $(((ms % 1000) / 100)) > "$WORK/$1.s"
  printf '%-9s %6d.%01d s   (load average after: %s)\n' "$1" $((ms / 1000)) $(((ms % 1000) / 100)) \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  if grep -q 'pip installs' "$WORK/$1.log"; then echo "          (fell back to pip: $(grep 'pip installs' "$WORK/$1.log"))"; fi
}
echo "$(nproc) cores; load average before: $(cut -d' ' -f1-3 /proc/loadavg) (a busy machine inflates every number)"
echo "installer: ${STUDIO_INSTALLER:-uv}; llama.cpp wheel cached before the cold run: $([ "$LLAMA_WHEEL" = 1 ] && echo yes || echo no)"
time_it cold bash packaging/setup.sh
for run in $(seq 1 "$RUNS"); do
  rm -rf .venv
  time_it "cached-$run" bash packaging/setup.sh
done
time_it no-op bash packaging/setup.sh
cached=$(cat "$WORK"/cached-*.s | sort -n | tr '\n' ' ')
echo "cached runs, sorted: $cached s"
du -sh "$WORK/cache/uv" 2>/dev/null | sed 's/^/uv cache: /' || true
command -v ccache >/dev/null && ccache -s | head -5 || echo "(ccache not installed)"
