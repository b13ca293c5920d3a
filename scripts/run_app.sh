#!/usr/bin/env bash
# Install (first time) and start the app on its offline default: http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_DISABLE_TELEMETRY=1
# 2 MB pages for torch's CPU tensors of 2 MB or more (PyTorch's switch, off by default): the word attributions
# take about 15 % less time on two cores (docs/benchmarks.md M); THP_MEM_ALLOC_ENABLE=0 keeps torch's default
export THP_MEM_ALLOC_ENABLE="${THP_MEM_ALLOC_ENABLE:-1}"
# one session opened as soon as the server answers: a fresh server then knows the pages, so a deep link works
.venv/bin/python scripts/warm_app.py "$@" &
exec .venv/bin/streamlit run app.py --server.headless true --browser.gatherUsageStats false "$@"
