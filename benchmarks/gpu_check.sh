#!/usr/bin/env bash
# One short check on a machine with an NVIDIA GPU (issue 15). Run from the repo root with a CUDA build of torch;
# needs ../shared/data (or LIBRARY=... GTZAN=...). About 2-4 minutes on one GPU. Prints:
#   1. the device, and the CUDA tests (CUDA vs CPU results agree);
#   2. `classify` of one file on CUDA (wall time including start-up);
#   3. the batch benchmark on CUDA: cold tracks/min of the default model (new path next to today's PyTorch
#      path; both are PyTorch on a GPU: large patch batches, pinned memory), warm tracks/min, peak RSS,
#      peak GPU memory (CUDA peak MB column), the decode vs GPU split (--split: decoding on the thread pool
#      vs front end + network on the GPU; if decoding takes longer, the GPU is starved: raise --jobs), and
#      whether half precision would keep the same top-1 as float32 on every GTZAN clip (not enabled yet).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="$(cd .. && pwd)/shared/data"
LIBRARY="${LIBRARY:-$DATA/library}"
GTZAN="${GTZAN:-$DATA/gtzan/clips}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export MUSIC_RECLASS_CACHE_DIR="$(mktemp -d)"
trap 'rm -rf "$MUSIC_RECLASS_CACHE_DIR"' EXIT
python - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if not torch.cuda.is_available():
    raise SystemExit("no CUDA device: this check needs an NVIDIA GPU and a CUDA build of torch")
print("gpu", torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
PY
python -m pytest -q -p no:cacheprovider tests/test_inference_engine.py -k "cuda" -rs
first="$(find "$LIBRARY" -name '*.mp3' | sort | head -n 1)"
start=$(date +%s%N)
python -m music_reclass_gui.cli classify "$first" --device cuda --no-cache
echo "classify on cuda: $(( ($(date +%s%N) - start) / 1000000 )) ms wall (start-up and model load included)"
python benchmarks/bench_batch.py --library "$LIBRARY" --gtzan "$GTZAN" --device cuda --rounds 1 --split
nvidia-smi --query-gpu=name,memory.used,memory.total,utilization.gpu --format=csv || true
