#!/usr/bin/env bash
# Debian/Ubuntu libraries a Qt desktop needs (and the tests' virtual display). Installs only what
# is missing, and only when running as root with apt (as CI does); otherwise prints the command.
# The xcb packages are those of studio/app.py XCB_LIBRARIES, which the GUI checks at launch
# (tests/test_app_launch.py keeps the two lists in step). Also a C/C++ compiler for the one-time
# llama.cpp build (packaging/setup.sh).
set -euo pipefail
PKGS=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 fonts-dejavu-core
      libpulse0 xvfb libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-cursor0
      libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xfixes0 libxcb-render0 libxcb-shm0
      libxcb-sync1 libxcb-util1 libxcb-xkb1 libx11-xcb1)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# llama-cpp-python compiles llama.cpp once (cmake and ninja come from PyPI; the compiler does not)
if ! command -v cc >/dev/null 2>&1 || ! command -v c++ >/dev/null 2>&1; then
  missing+=(build-essential)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing system libraries; install them with:" >&2
  echo "  sudo apt-get install ${missing[*]}" >&2
fi
