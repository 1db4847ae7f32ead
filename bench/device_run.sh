#!/usr/bin/env bash
# One prepared session on the lent GPU: the trained baselines at longer budgets than CPU allows.
# Data travels as the git-ignored .bench-data/ that `python -m bench.device_pack` writes (under 64 MiB).
# Eleven runs share the GPU at once (one CPU thread each); each is cut at RUN_SECONDS and prints every class / seed
# as it finishes, so a cut run still leaves its figures in its log. Results and logs land in $OUT/results.
# FCDD + OE on Fashion-MNIST (the paper's setting) runs as two halves of the classes, joined afterwards with
# `python -m bench merge fashion_mnist-gpu fashion_mnist-gpu-oe-a.json fashion_mnist-gpu-oe-b.json`.
# Scale: OE_EPOCHS, FASHION_EPOCHS, CIFAR_EPOCHS, LUNG_EPOCHS, LUNG_SEEDS, RUN_SECONDS (a smoke test sets them tiny).
set -u
export PYTHONPATH=$PWD/src:$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RESULTS=/tmp/seedlens-device/results  # bundled into $OUT/results.tgz at the end (the device returns 8 files)
DATA=.bench-data
DEVICE=${DEVICE:-cuda}
mkdir -p "$RESULTS"
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
python3 -c "import seedlens.detectors, seedlens.data, seedlens.evaluation, sklearn, scipy, yaml, rich; print('imports ok')" \
  || exit 3

bench() {  # bench LOG_NAME ARGS...: one benchmark run in the background, cut at RUN_SECONDS
  local log=$1; shift
  timeout "${RUN_SECONDS:-480}" python3 -m bench run "$@" --device "$DEVICE" --out-dir "$RESULTS" \
    >"$RESULTS/$log.log" 2>&1 &
}
FASHION=(fashion_mnist --data-root "$DATA" --train-per-class 0 ${FASHION_EXTRA:-} --epochs "${FASHION_EPOCHS:-40}")
OE=("${FASHION[@]}" --epochs "${OE_EPOCHS:-100}" --methods fcdd --anomalies outliers --outlier-dir "$DATA/cifar-oe")
bench fm-oe-a "${OE[@]}" --classes "${OE_CLASSES_A:-0-4}" --tag gpu-oe-a
bench fm-oe-b "${OE[@]}" --classes "${OE_CLASSES_B:-5-9}" --tag gpu-oe-b
bench fm-fcdd "${FASHION[@]}" --methods fcdd --tag gpu-confetti
bench fm-hsc "${FASHION[@]}" --methods hsc --tag gpu-hsc
bench fm-ae "${FASHION[@]}" --methods autoencoder --tag gpu-autoencoder
CIFAR=(cifar10 --data-root "$DATA" --train-per-class 0 --epochs "${CIFAR_EPOCHS:-10}" ${CIFAR_EXTRA:-})
bench c-fcdd "${CIFAR[@]}" --methods fcdd --tag gpu-fcdd
bench c-hsc "${CIFAR[@]}" --methods hsc --tag gpu-hsc
bench c-ae "${CIFAR[@]}" --methods autoencoder --tag gpu-autoencoder
LUNG=(lung_ct --data-root "$DATA" --epochs "${LUNG_EPOCHS:-30}" --seeds "${LUNG_SEEDS:-3}")
bench lung-fcdd "${LUNG[@]}" --methods fcdd --tag gpu
bench lung-hsc "${LUNG[@]}" --methods hsc --tag gpu-hsc
bench lung-ae "${LUNG[@]}" --methods autoencoder --tag gpu-autoencoder
while sleep 30; do
  running=$(jobs -r | wc -l)
  echo "$(date +%T) running: $running; $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null)"
  [ "$running" -eq 0 ] && break
done
wait
rm -f "$RESULTS"/*.png "$RESULTS"/RESULTS.md
tail -n 3 "$RESULTS"/*.log
ls -la "$RESULTS"
mkdir -p "${OUT:-/tmp/seedlens-device}"
tar czf "${OUT:-/tmp/seedlens-device}/results.tgz" -C "$RESULTS" .
