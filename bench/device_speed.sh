#!/usr/bin/env bash
# One call on a lent GPU for the speed-and-parity issue: every GPU figure in one prepared run (about 8 minutes).
#   python -m bench.device_pack --data-root ../shared/data      # once, on the CPU machine: writes .bench-data/
#   run(command="bash bench/device_speed.sh", carry=[".bench-data"], timeout_s=600)
# 1. the CUDA tests of the training loop and the held-data path;
# 2. `bench run speed`: training vs the device ceiling (data wait, synthesis share), inference vs the fastest
#    forward ceiling (plain / channels_last / torch.compile), 128³ volumes at batch 8 and a 512³ sliding window
#    (MONAI beside it when the image has it);
# 3. `bench run fcdd_parity`: seedlens on the reference protocol, ten classes × 3 seeds (cut at PARITY_SECONDS).
# Results and logs land in $OUT (JSON + logs; the device returns a handful of files).
set -u
export PYTHONPATH=$PWD/src:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/seedlens-device}
mkdir -p "$OUT"
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider tests/unit/training/test_cuda.py tests/unit/training/test_held_data.py \
  tests/unit/detectors/test_exposure.py >"$OUT/cuda-tests.log" 2>&1
tail -n 3 "$OUT/cuda-tests.log"
timeout "${SPEED_SECONDS:-300}" python3 -m bench run speed --device cuda --data-root .bench-data --tag gpu \
  --out-dir "$OUT" >"$OUT/speed.log" 2>&1
tail -n 20 "$OUT/speed.log"
timeout "${PARITY_SECONDS:-240}" python3 -m bench run fcdd_parity --device cuda --data-root .bench-data \
  --classes "${PARITY_CLASSES:-0-9}" --seeds "${PARITY_SEEDS:-3}" --tag gpu --out-dir "$OUT" >"$OUT/parity.log" 2>&1
tail -n 35 "$OUT/parity.log"
rm -f "$OUT"/*.png "$OUT"/RESULTS.md
ls -la "$OUT"
