#!/usr/bin/env bash
# There, on the lent GPU (issue #20's check), after benchmarks/device/prepare.sh here:
#   run(command="bash benchmarks/device/gpu_check.sh", carry=[".device"], timeout_s=540)
# Installs the carried wheels and this checkout (editable: drivers/ and gui/ map under
# ezsr_live), then runs, writing each log and its last JSON line under $OUT:
#   1. bench_pipeline.py: ViT-B/16, fp16 CUDA graph, exact on-device k-NN over 1.28 M
#      vectors (targets: window -> label p99 <= 2 ms, >= 500 results/s);
#   2. bench_streams.py: 1, 2, 4, 8 and 16 replayed streams batched into one encoder.
# --dry-run: the same steps on this machine's CPU with the tiny model and small sizes,
# to check the script itself (installs nothing; uses this environment).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-$(mktemp -d)}
if [[ "${1:-}" == "--dry-run" ]]; then
    device=cpu models=tiny events=2000000 knn=20000 max_s=1 streams=1,2 seconds=1
    export EZSR_SAMPLES=${EZSR_SAMPLES:-../shared/samples}
else
    device=cuda models=ViT-B-16 events=50000000 knn=1280000 max_s=8 streams=1,2,4,8,16 seconds=3
    site=/tmp/ezsr-site
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
        .device/wheels/*.whl
    export PYTHONPATH="$site" EZSR_SAMPLES="$PWD/.device/samples" NUMBA_CACHE_DIR=/tmp/ezsr-numba
    python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile -e . >"$out/install.log" 2>&1 \
        || { cat "$out/install.log"; exit 1; }
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$out/gpu.csv"
    python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__)" \
        >>"$out/gpu.csv"
fi
export PYTHONUNBUFFERED=1
step() {  # name, command...: its log, and its last line (the benchmark's JSON) on its own
    local name=$1
    shift
    echo "== $name: $*"
    "$@" 2>&1 | tee "$out/$name.log"
    tail -n 1 "$out/$name.log" >"$out/$name.json"
    python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$out/$name.json"
}
step pipeline python3 benchmarks/bench_pipeline.py --device "$device" --models "$models" --events "$events" \
    --knn-size "$knn" --max-s "$max_s"
step streams python3 benchmarks/bench_streams.py --device "$device" --models "$models" --recording evt3 \
    --events 3000000 --streams "$streams" --seconds "$seconds" --knn-size "$knn"
echo "results in $out: $(cd "$out" && ls | tr '\n' ' ')"
