#!/usr/bin/env bash
# GPU check of the embedding engine (issue 14): on a CUDA machine, build a ~100M-parameter
# gLM from config, embed 20,000 sequences of 230 nt with every layer, and print seq/s, the
# fraction of time the GPU was busy and the ratio to the bare forward pass; then batched gLM ISM
# vs one edited sequence per pass (issue 12's bar, 10x). Under 5 minutes.
#
#   benchmarks/gpu_check.sh               # make .venv-cuda from requirements-cuda.txt, then run
#   benchmarks/gpu_check.sh --no-install  # use the python on PATH (torch with CUDA already there)
#   benchmarks/gpu_check.sh --dry-run     # no GPU needed: tiny model, CPU, no install (CI test)
#
# Other options go to benchmarks/gpu_check.py (--n, --length, --hidden, --layers, --batch-size).
set -euo pipefail
cd "$(dirname "$0")/.."

install=1
for arg in "$@"; do
  case "$arg" in
    --no-install|--dry-run) install=0 ;;
  esac
done
args=()
for arg in "$@"; do [ "$arg" = "--no-install" ] || args+=("$arg"); done

if [ "$install" = 1 ]; then
  venv="${GPU_CHECK_VENV:-.venv-cuda}"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  # only the CUDA requirements file (+ the lock's pins) and glmprobe itself, nothing else
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements-cuda.txt -c requirements.lock
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -e .
  python="$venv/bin/python"
else
  python="${PYTHON:-python3}"
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
exec "$python" benchmarks/gpu_check.py ${args[@]+"${args[@]}"}
