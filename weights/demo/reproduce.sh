#!/usr/bin/env bash
# Rebuilds everything in weights/demo/ from scratch with fixed seeds: the demo CLIP
# (teacher), its three event students, the k-NN pools, the demo recording and the
# ablation (docs/results.md takes its table from $WORK/build/results.md).
# About 45 minutes on 2 CPU cores; minutes on a GPU.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${WORK:-$(mktemp -d)}"
python -m ezsr_live.demo.teacher --out "$WORK/teacher" --steps 2500 --eval-images 2000 --workers 1 --threads 2 --seed 0
cp "$WORK/teacher/teacher.safetensors" weights/demo/ezsr-demo-teacher.safetensors
python - "$WORK/teacher/teacher.json" weights/demo/ezsr-demo-teacher.json <<'PY'
import json, sys
meta = json.load(open(sys.argv[1])); meta["weights"] = "ezsr-demo-teacher.safetensors"
json.dump(meta, open(sys.argv[2], "w"), indent=2)
PY
OMP_NUM_THREADS=1 python -m ezsr_live.demo.build --teacher weights/demo/ezsr-demo-teacher.safetensors \
    --out "$WORK/build" --seed 0 --teacher-name ezsr-demo-teacher.safetensors
cp "$WORK/build/ezsr-demo-event-modulation."{safetensors,json} weights/demo/
rm -rf weights/demo/ezsr-demo-pool && cp -r "$WORK/build/ezsr-demo-pool" weights/demo/
cp "$WORK/build/shapes_demo.raw" "$WORK/build/shapes_demo.json" weights/demo/
echo "done; update the sha256s in weights/registry.json (sha256sum weights/demo/*.safetensors) and docs/results.md"
