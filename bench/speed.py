"""Speed, measured back to back in one run: seedlens against the same network's own ceiling, MONAI and the reference.

For the 28×28 FCDD on Fashion-MNIST class 0 (``DATA_ROOT/fashion-mnist``; random images of that shape when the data
is absent, as on a lent GPU without it), batch 128, SGD:

* **training**: seedlens's ``FCDD.fit`` images/s (its training loop's own count: every step with anomaly
  synthesis, augmentation and data loading) and where the time went (data wait vs steps, from the loop's timers);
  the **ceiling**: the same network and loss, forward + backward + SGD step on batches already on the device
  (no synthesis, no loading), and the ratio; the cost of the anomaly synthesis alone per step, as a share of a
  ceiling step.
* **inference**: ``score_and_explain`` images/s of the fitted detector on test images (preprocessing, scores and
  heatmaps at input resolution, copied back to numpy) against the fastest of three forward-only ceilings of the
  same network + upsampler on batches on the device: plain, ``channels_last`` and ``torch.compile``.
* **volumes**: a 3D FCDD (``fcdd3d``, trained one short epoch on synthetic grain phantoms): seconds per 128³ volume
  (score + voxel heatmap) against its ceiling, and a ``--volume-size``³ volume by sliding window through seedlens
  against MONAI's ``sliding_window_inference`` over the same network and window (when MONAI is installed).
* **the FCDD reference** (``--peer DIR``, set up as ../shared/PEERS.md says): its own training images/s and test
  phase on the same class and epochs, run in the same benchmark, and seedlens/reference ratios.

Speeds vary 2–3× between sessions on shared machines: compare the ratios of one run, not figures of other days.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_EPOCHS = 3
BATCH = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train-images", type=int, default=6000, help="training images of class 0 (at most 6000)")
    parser.add_argument("--test-images", type=int, default=None, help="images scored (default: 2000 CPU, 10000 GPU)")
    parser.add_argument("--volume-size", type=int, default=None, help="sliding-window volume side (256 CPU, 512 GPU)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each ceiling")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile ceiling")
    parser.add_argument("--no-volumes", action="store_true", help="skip the 3D measurements")
    parser.add_argument("--peer", default=None, help="folder with the FCDD reference set up (run_one.py, venv/)")


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _fashion(data_root: Path, n_train: int, n_test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Class-0 training images, test images and test labels (1 = not class 0), in [0, 1] ``(N, 1, 28, 28)``."""
    path = data_root / "fashion-mnist" / "fashion_mnist.npz"
    if path.is_file():
        data = np.load(path)
        train = data["x_train"][data["y_train"] == 0][:n_train, None] / np.float32(255)
        test, labels = data["x_test"][:n_test, None] / np.float32(255), (data["y_test"][:n_test] != 0).astype(int)
        return train.astype(np.float32), test.astype(np.float32), labels, "fashion-mnist class 0"
    rng = np.random.default_rng(0)
    labels = (rng.random(n_test) < 0.9).astype(int)
    return (rng.random((n_train, 1, 28, 28), dtype=np.float32), rng.random((n_test, 1, 28, 28), dtype=np.float32),
            labels, "random 28×28 images (Fashion-MNIST not found)")


def _training_ceilings(device: Any, images: np.ndarray, epochs: int, amp: bool) -> dict[str, Any]:
    """Images/s of the bare training loop in both memory formats, and the faster one."""
    rates = {layout: _training_ceiling(device, images, epochs, amp, layout == "channels_last")
             for layout in ("contiguous", "channels_last")}
    fastest = max(rates, key=lambda k: rates[k])
    return {"ceiling_by_layout": rates, "ceiling_layout": fastest, "ceiling_images_per_s": rates[fastest]}


def _training_ceiling(device: Any, images: np.ndarray, epochs: int, amp: bool, channels_last: bool) -> float:
    """Images/s of FCDDNet(fcdd28) + FCDD loss + SGD on random batches already on the device (no synthesis)."""
    import torch

    from seedlens.anomaly import fcdd_loss
    from seedlens.models import FCDDNet, create_backbone

    torch.manual_seed(0)
    net = FCDDNet(create_backbone("fcdd28", in_channels=1)).to(device).train()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-6)
    x = torch.from_numpy(images).to(device)
    labels = (torch.rand(len(x), device=device) < 0.5).float()
    steps = max(len(x) // BATCH, 1)
    dtype = torch.bfloat16 if amp and device.type == "cuda" else None

    def epoch() -> None:
        order = torch.randperm(len(x), device=device)
        for k in range(steps):
            index = order[k * BATCH : (k + 1) * BATCH]
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = fcdd_loss(net(x[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    epoch()  # warm-up
    _sync(device)
    started = time.perf_counter()
    for _ in range(epochs):
        epoch()
    _sync(device)
    return steps * BATCH * epochs / (time.perf_counter() - started)


def _synthesis_ms(detector: Any, device: Any, images: np.ndarray, repeats: int = 20) -> float:
    """Milliseconds per batch of 128 for the detector's own anomaly synthesis and augmentation (expose)."""
    import torch

    from seedlens.detectors.exposure import expose

    batch = {"x": torch.from_numpy(images[:BATCH]).to(device), "label": torch.zeros(BATCH, device=device),
             "mask": torch.zeros((BATCH, 1, 28, 28), device=device)}
    generator = torch.Generator(device=device).manual_seed(0)
    expose(detector._online, batch, generator, detector.config_)
    _sync(device)
    started = time.perf_counter()
    for _ in range(repeats):
        expose(detector._online, batch, generator, detector.config_)
    _sync(device)
    return 1000 * (time.perf_counter() - started) / repeats


def _inference_ceilings(detector: Any, device: Any, images: np.ndarray, repeats: int,
                        compile_too: bool) -> dict[str, Any]:
    """Images/s of the detector's network + pseudo-Huber + upsampler on batches on the device, three ways."""
    import torch

    module = detector.scoring_module().to(device).eval()
    shape = tuple(images.shape[2:])
    x = torch.from_numpy(images[:BATCH]).to(device)

    def rate(fn: Any, batch: Any) -> float:
        with torch.no_grad():
            fn(batch)
            _sync(device)
            started = time.perf_counter()
            for _ in range(repeats * 4):
                fn(batch)
            _sync(device)
        return repeats * 4 * len(batch) / (time.perf_counter() - started)

    def forward(batch: Any) -> Any:
        return module.heatmap(module.anomaly_map(batch), shape)

    out: dict[str, Any] = {"plain": rate(forward, x)}
    module.to(memory_format=torch.channels_last)
    out["channels_last"] = rate(forward, x.contiguous(memory_format=torch.channels_last))
    module.to(memory_format=torch.contiguous_format)
    if compile_too:
        try:
            started = time.perf_counter()
            compiled = torch.compile(forward)
            with torch.no_grad():
                compiled(x)
            out["compile_s"] = time.perf_counter() - started
            out["compiled"] = rate(compiled, x)
        except Exception as error:  # a missing compiler is a result, not a crash
            out["compiled_error"] = f"{type(error).__name__}: {str(error)[:300]}"
    rates = {k: v for k, v in out.items() if k in ("plain", "channels_last", "compiled")}
    out["fastest"] = max(rates, key=lambda k: rates[k])
    out["fastest_images_per_s"] = rates[out["fastest"]]
    return out


def _train_2d(args: argparse.Namespace, device: Any, train: np.ndarray, epochs: int) -> Any:
    from seedlens.detectors import FCDD

    detector = FCDD(backbone="fcdd28", image_size=28, epochs=epochs, batch_size=BATCH, optimizer="sgd", lr=0.01,
                    weight_decay=1e-6, lr_decay=0.98, val_fraction=0.01, device=str(device), seed=0)
    return detector.fit(train, progress=False)


def _volumes(args: argparse.Namespace, device: Any) -> dict[str, Any]:
    """Seconds per 128³ volume and per sliding-window volume, with their ceilings and MONAI."""
    import torch

    from seedlens.data.synthetic import make_seed_volume
    from seedlens.detectors import FCDD

    size = args.volume_size or (512 if device.type == "cuda" else 256)
    phantoms = np.stack([make_seed_volume(64, rng=i).volume for i in range(6)]).astype(np.float32)
    detector = FCDD(modality="volume", backbone="fcdd3d", patch_size=32, epochs=1, device=str(device), seed=0,
                    batch_size=8).fit(phantoms, progress=False)
    module = detector.scoring_module().to(device).eval()
    batch = 8 if device.type == "cuda" else 1
    volumes = np.stack([make_seed_volume(128, rng=100 + i).volume for i in range(batch)]).astype(np.float32)
    out: dict[str, Any] = {"batch_128": batch}
    detector.score_and_explain(volumes[:1])  # warm-up
    started = time.perf_counter()
    for _ in range(args.repeats):
        detector.score_and_explain(volumes)
    out["seedlens_s_per_volume_128"] = (time.perf_counter() - started) / (args.repeats * batch)
    x = torch.from_numpy(volumes).to(device)
    with torch.no_grad():
        module.heatmap(module.anomaly_map(x), (128,) * 3)
        _sync(device)
        started = time.perf_counter()
        for _ in range(args.repeats):
            module.heatmap(module.anomaly_map(x), (128,) * 3)
        _sync(device)
    out["ceiling_s_per_volume_128"] = (time.perf_counter() - started) / (args.repeats * batch)
    big = np.zeros((1, size, size, size), np.float32)
    tile = make_seed_volume(64, rng=7).volume[0]
    for z in range(0, size, 64):
        for y in range(0, size, 64):
            for w in range(0, size, 64):
                big[0, z : z + 64, y : y + 64, w : w + 64] = tile
    started = time.perf_counter()
    detector.score_and_explain(big[None])
    out["seedlens_s_per_volume_large"] = time.perf_counter() - started
    out["large_size"] = size
    out["window"] = list(detector.window_size_)
    out["monai"] = _monai(detector, module, big, device)
    return out


def _monai(detector: Any, module: Any, volume: np.ndarray, device: Any) -> dict[str, Any]:
    """MONAI's sliding_window_inference over the same network and window, then the same upsampler."""
    import torch

    try:
        import monai
        from monai.inferers import sliding_window_inference
    except ImportError:
        return {"skipped": "monai is not installed (pip install monai)"}
    x = torch.from_numpy(detector.preprocessor_(volume, None))[None].to(device)
    window = tuple(detector.window_size_)
    with torch.no_grad():
        started = time.perf_counter()
        cells = sliding_window_inference(x, window, 4 if device.type == "cuda" else 1, module.anomaly_map,
                                         overlap=0.25, mode="gaussian")
        module.heatmap(cells, tuple(x.shape[2:]))
        _sync(device)
    return {"s_per_volume": time.perf_counter() - started, "version": monai.__version__, "overlap": 0.25,
            "mode": "gaussian"}


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch

    from bench._peer import run_reference
    from seedlens.evaluation import image_auroc
    from seedlens.training import select_device

    device = select_device(args.device)
    epochs = args.epochs or DEFAULT_EPOCHS
    n_test = args.test_images or (10_000 if device.type == "cuda" else 2000)
    train, test, labels, source = _fashion(Path(args.data_root), args.train_images, n_test)
    results: dict[str, Any] = {}

    started = time.perf_counter()
    detector = _train_2d(args, device, train, epochs)
    stats = detector.training_stats_
    results["train"] = {"seedlens_images_per_s": stats["samples_per_s"], "wall_s": time.perf_counter() - started,
                        "data_wait_share": stats["data_wait_share"], "precision": stats["precision"]}
    ceilings = _training_ceilings(device, train, max(1, min(epochs, 3)), amp=bool(detector.config_.amp))
    ceiling = ceilings["ceiling_images_per_s"]
    step_ms = 1000 * BATCH / ceiling
    synthesis = _synthesis_ms(detector, device, train)
    results["train"].update({**ceilings, "ratio_to_ceiling": stats["samples_per_s"] / ceiling,
                             "synthesis_ms_per_batch": synthesis, "ceiling_step_ms": step_ms,
                             "synthesis_share_of_step": synthesis / (synthesis + step_ms)})

    detector.score_and_explain(test[:BATCH])  # warm-up
    started = time.perf_counter()
    scores, _ = detector.score_and_explain(test)
    rate = len(test) / (time.perf_counter() - started)
    ceilings = _inference_ceilings(detector, device, test, args.repeats, not args.no_compile)
    results["inference"] = {"seedlens_images_per_s": rate, **ceilings,
                            "ratio_to_fastest": rate / ceilings["fastest_images_per_s"],
                            "auroc": image_auroc(labels, scores)}
    if not args.no_volumes:
        results["volumes"] = _volumes(args, device)
    if args.peer:
        peer = run_reference(Path(args.peer), 0, epochs)
        results["peer"] = peer
        if "train_images_per_s" in peer:
            results["peer_ratios"] = {
                "train": results["train"]["seedlens_images_per_s"] / peer["train_images_per_s"],
                "test_phase": rate / peer["test_images_per_s"] if peer.get("test_images_per_s") else None,
            }
    settings = {
        "device": str(device),
        "data": source,
        "train_images": len(train),
        "test_images": len(test),
        "epochs": epochs,
        "batch_size": BATCH,
        "optimizer": "SGD Nesterov 0.9, lr 0.01, wd 1e-6, ×0.98 per epoch",
        "detector": "FCDD fcdd28, confetti online (p=0.5), flips, library defaults otherwise; 1 % held out",
        "ceiling": "same net + FCDD loss + SGD on random batches already on the device, random labels, "
                   "contiguous and channels_last (the faster counts)",
        "torch": torch.__version__,
        "peer": args.peer,
    }
    return settings, results


def markdown(result: dict[str, Any]) -> str:
    r, m = result["results"], result["machine"]
    where = m.get("gpu") or f"CPU ({m['cpu_count']} cores, {m['torch_threads']} torch threads)"
    if "train" not in r:  # a result of the first version of this benchmark (no ceilings)
        return "\n".join([
            "| device | training samples/s (28×28) | heatmaps/s (224×224) | s per 128³ volume |", "|---|---|---|---|",
            f"| {where} | {r['train_samples_per_s_28']:.0f} | {r['heatmap_images_per_s_224']:.1f} | "
            f"{r['seconds_per_volume_128']:.3f} |"])
    t, i = r["train"], r["inference"]
    lines = [
        f"Device: {where}. Fashion-MNIST 28×28 FCDD, batch {BATCH}.",
        "",
        "| measure | seedlens | ceiling | ratio |",
        "|---|---|---|---|",
        f"| training images/s | {t['seedlens_images_per_s']:.0f} | {t['ceiling_images_per_s']:.0f}"
        f"{' (' + t['ceiling_layout'] + ')' if 'ceiling_layout' in t else ''} | "
        f"{t['ratio_to_ceiling']:.2f} |",
        f"| score + heatmap images/s | {i['seedlens_images_per_s']:.0f} | {i['fastest_images_per_s']:.0f} "
        f"({i['fastest']}) | {i['ratio_to_fastest']:.2f} |",
    ]
    v = r.get("volumes")
    if v:
        lines.append(f"| s per 128³ volume (batch {v['batch_128']}) | {v['seedlens_s_per_volume_128']:.4f} | "
                     f"{v['ceiling_s_per_volume_128']:.4f} | "
                     f"{v['ceiling_s_per_volume_128'] / v['seedlens_s_per_volume_128']:.2f} |")
        monai = v["monai"].get("s_per_volume")
        peer = f"MONAI {monai:.2f} | {monai / v['seedlens_s_per_volume_large']:.2f}" if monai else "MONAI not run |"
        lines.append(f"| s per {v['large_size']}³ volume, sliding window | {v['seedlens_s_per_volume_large']:.2f} | "
                     f"{peer} |")
    lines += ["", f"Data wait {t['data_wait_share']:.1%} of training; anomaly synthesis "
              f"{t['synthesis_ms_per_batch']:.1f} ms per batch = {t['synthesis_share_of_step']:.1%} of a step."]
    peer = r.get("peer")
    if peer and "train_images_per_s" in peer:
        ratios = r["peer_ratios"]
        lines.append(f"FCDD reference: training {peer['train_images_per_s']:.0f} images/s (seedlens "
                     f"{ratios['train']:.2f}×), test phase {peer.get('test_images_per_s', float('nan')):.0f} images/s"
                     + (f" (seedlens {ratios['test_phase']:.2f}×)." if ratios.get("test_phase") else "."))
    elif peer:
        lines.append(f"FCDD reference: {peer.get('error', 'no result')[:200]}")
    return "\n".join(lines)
