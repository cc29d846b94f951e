#!/usr/bin/env bash
# One short check on a machine with an NVIDIA GPU (run from the repo root; needs a CUDA build of torch and
# ../shared/data/library or LIBRARY=...). Prints: the device, the CUDA tests, `classify` on CUDA, and the
# batch benchmark on CUDA (tracks/min cold + warm, peak RSS, peak GPU memory; the spec's limit is 8 GB).
set -euo pipefail
LIBRARY="${LIBRARY:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data/library}"
export MUSIC_RECLASS_CACHE_DIR="$(mktemp -d)"
python - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("gpu", torch.cuda.get_device_name(0))
PY
python -m pytest -q tests/test_inference_engine.py -k "cuda" -rs
first="$(find "$LIBRARY" -name '*.mp3' | sort | head -n 1)"
music-reclass classify "$first" --device cuda --no-cache
python benchmarks/bench_batch.py --library "$LIBRARY" --device cuda --skip-naive
