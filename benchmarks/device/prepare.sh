#!/usr/bin/env bash
# Here, where the package registries answer: fill .device/ (git-ignored) with what
# benchmarks/device/gpu_check.sh needs on the lent GPU machine, which reaches no network
# and has Python 3.12 with torch, torchvision, timm, numba, safetensors and
# huggingface-hub, but not open_clip, ftfy, faiss or lz4 (/work/.library/device/KINDS.md).
# Wheels are the versions installed here, the ones the test suite passed with; the EVT 3.0
# sample is what both benchmarks tile into their recordings. About 40 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=.device
samples=${EZSR_SAMPLES:-../shared/samples}
version() { python3 -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
rm -rf "$dest"
mkdir -p "$dest/wheels" "$dest/samples"
for name in open_clip_torch ftfy wcwidth faiss-cpu lz4; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "${DEVICE_PYTHON:-3.12}" \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
        -d "$dest/wheels" "$name==$(version "$name")"
done
cp "$samples/evt3_gen41_1280x720.raw" "$dest/samples/"
du -sh "$dest"
