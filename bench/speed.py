"""Speed: FCDD training samples/s at 28×28, heatmap inference images/s at 224×224, seconds per 128³ volume."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=3)


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _heatmap_rate(name: str, shape: tuple[int, ...], batch: int, repeats: int, device: Any) -> float:
    """Samples/s of FCDD network forward + receptive-field upsampling to full resolution (no training)."""
    import torch

    from seedlens.anomaly import pseudo_huber
    from seedlens.explain import ReceptiveFieldUpsampler
    from seedlens.models import FCDDNet, create_backbone

    net = FCDDNet(create_backbone(name, in_channels=shape[0])).to(device).eval()
    up = ReceptiveFieldUpsampler(net.receptive_field, spatial_dims=len(shape) - 1, sigma=4.0).to(device)
    x = torch.rand((batch, *shape), device=device)
    with torch.no_grad(), torch.autocast(device.type, enabled=device.type == "cuda"):
        up(pseudo_huber(net(x)), shape[1:])  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            up(pseudo_huber(net(x)), shape[1:])
        _sync(device)
    return batch * repeats / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    from seedlens.detectors import FCDD
    from seedlens.training import select_device

    device = select_device(args.device)
    rng = np.random.default_rng(0)
    n_train = 2048 if device.type == "cuda" else 512
    images = rng.random((n_train, 1, 28, 28), dtype=np.float32)
    detector = FCDD(backbone="fcdd28", image_size=28, epochs=2, batch_size=128, device=str(device))
    detector.fit(images, progress=False)
    train_rate = detector.training_stats_["samples_per_s"]
    rate_224 = _heatmap_rate("fcdd224", (3, 224, 224), 32 if device.type == "cuda" else 8, args.repeats, device)
    rate_128 = _heatmap_rate("fcdd3d", (1, 128, 128, 128), 4 if device.type == "cuda" else 1, args.repeats, device)
    settings = {
        "device": str(device),
        "train": "FCDD fcdd28, 28×28 grey, batch 128, confetti online, full training step (incl. anomaly synthesis)",
        "heatmap_224": "FCDD fcdd224 (VGG11-BN topology) forward + Gaussian RF upsampling to 224×224, RGB",
        "volume_128": "FCDD fcdd3d forward + Gaussian RF upsampling to 128³",
        "autocast": device.type == "cuda",
    }
    results = {
        "train_samples_per_s_28": train_rate,
        "heatmap_images_per_s_224": rate_224,
        "seconds_per_volume_128": 1.0 / rate_128,
    }
    return settings, results


def markdown(result: dict[str, Any]) -> str:
    r, m = result["results"], result["machine"]
    where = m.get("gpu") or f"CPU ({m['cpu_count']} cores, {m['torch_threads']} torch threads)"
    return "\n".join(
        [
            "| device | training samples/s (28×28) | heatmaps/s (224×224) | s per 128³ volume |",
            "|---|---|---|---|",
            f"| {where} | {r['train_samples_per_s_28']:.0f} | {r['heatmap_images_per_s_224']:.1f} | "
            f"{r['seconds_per_volume_128']:.3f} |",
        ]
    )
