#!/usr/bin/env bash
# Install everything (first time) and run the whole test suite, the browser test and lint included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pip install -q -r requirements-dev.txt
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
.venv/bin/ruff check .
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
# two workers, one thread each: on two cores this takes about two thirds of a serial run (`-n 0` runs serially)
exec .venv/bin/python -m pytest -n 2 --dist loadfile "$@"
