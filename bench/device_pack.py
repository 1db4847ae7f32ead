"""Pack the data a lent-GPU run needs into ``.bench-data/`` (git-ignored), within the device's 64 MiB transfer.

``python -m bench.device_pack --data-root ../shared/data`` writes:

* ``fashion-mnist/fashion_mnist.npz``: the same arrays, LZMA-compressed (``numpy.load`` reads it; 4 MB less);
* ``cifar10/cifar10_jpg.tar``: a gzip tar of the same JPEGs, the first ``--cifar-train`` training images of each
  class (the order ``bench.cifar10`` reads them in) and every test image;
* ``cifar-oe/``: the 2000 grey-CIFAR Outlier Exposure images ``bench.fashion_mnist`` draws from the full tar;
* ``covid-ct/``: the manifest and its slices shrunk to at most ``--lung-size`` pixels (JPEG quality 95; the
  library's lung-CT defaults resize to 64×64), without the COVID training slices, which the protocol never
  reads (the detectors train on ``noncovid`` only).

``bench/device_run.sh`` reads it from there.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.fashion_mnist import grey_cifar_folder


def pack(data_root: Path, out: Path, cifar_train: int, lung_size: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _pack_fashion(data_root / "fashion-mnist" / "fashion_mnist.npz", out / "fashion-mnist" / "fashion_mnist.npz")
    _pack_cifar(data_root / "cifar10" / "cifar10_jpg.tar", out / "cifar10" / "cifar10_jpg.tar", cifar_train)
    shutil.copytree(grey_cifar_folder(data_root), out / "cifar-oe", dirs_exist_ok=True)
    _pack_lung(data_root / "covid-ct", out / "covid-ct", lung_size)


def _pack_fashion(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays = np.load(source)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_LZMA) as packed:
        for key in arrays.files:
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, arrays[key])
            packed.writestr(f"{key}.npy", buffer.getvalue())


def _pack_cifar(source: Path, target: Path, train_per_class: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(source) as tar, tarfile.open(target, "w:gz") as packed:
        members = sorted((m for m in tar.getmembers() if m.isfile() and m.name.endswith(".jpg")),
                         key=lambda m: m.name)
        taken: dict[str, int] = {}
        for member in members:
            folder = str(Path(member.name).parent)
            if "train/" in member.name:
                if taken.get(folder, 0) >= train_per_class:
                    continue
                taken[folder] = taken.get(folder, 0) + 1
            packed.addfile(member, tar.extractfile(member))


def _pack_lung(source: Path, target: Path, size: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with (source / "manifest.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if not (r["split"] == "train" and r["label"] != "noncovid")]
    with (target / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    for path in (source / row["path"] for row in rows):
        with Image.open(path) as image:
            image.thumbnail((size, size))
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=95)
        written = target / path.relative_to(source)
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_bytes(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.device_pack", description=__doc__.split("\n")[0])
    parser.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / ".bench-data"))
    parser.add_argument("--cifar-train", type=int, default=5000, help="training images per CIFAR-10 class")
    parser.add_argument("--lung-size", type=int, default=96, help="longest side of the shrunk lung slices")
    args = parser.parse_args()
    pack(Path(args.data_root), Path(args.out), args.cifar_train, args.lung_size)


if __name__ == "__main__":
    main()
