#!/usr/bin/env bash
# Set everything up and run the whole test suite (what .ci/run calls).
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/system-deps.sh
bash packaging/setup.sh --test
# A real ComfyUI in its own venv for tests/test_comfyui_real.py (~15 s to build, cached after); without it
# (no network) those tests skip and say why.
bash packaging/comfyui_for_tests.sh || echo "packaging/comfyui_for_tests.sh failed: the real-ComfyUI tests will skip" >&2
export QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
