#!/usr/bin/env bash
# One prepared GPU session (the lent device): speed and Fashion-MNIST, results under $OUT/results.
# Data travels as the ignored folder .bench-data/ (fashion_mnist.npz + 2000 CIFAR-10 JPEGs for OE).
set -u
export PYTHONPATH=$PWD/src:$PWD PYTHONUNBUFFERED=1
RESULTS=${OUT:-/tmp/seedlens-device}/results
mkdir -p "$RESULTS"
nvidia-smi -L
python -c "import seedlens.detectors, seedlens.training, seedlens.evaluation, sklearn, scipy, yaml, rich; print('imports ok')" \
  || { pip list 2>/dev/null | head -80; exit 3; }
timeout 100 python -m bench run speed --device cuda --tag gpu --out-dir "$RESULTS"
timeout "${FMNIST_SECONDS:-330}" python -m bench run fashion_mnist --device cuda --tag gpu --out-dir "$RESULTS" \
  --data-root .bench-data --methods fcdd --train-per-class 0 --epochs "${EPOCHS:-10}" --anomalies "${ANOMALIES:-outliers}" \
  --outlier-dir .bench-data/cifar-oe --optimizer "${OPTIMIZER:-adam}" --lr "${LR:-1e-3}"
ls -la "$RESULTS"
