"""A CT-like scan of many grains at once (an ear, a tube, a tray), with ground-truth instance labels.

The scene, on a ``(D, H, W)`` voxel grid (axis 0 is the stem axis):

* a **stem** (rachis): a cylinder of radius ``stem_radius`` along axis 0 through the centre of the H-W plane,
  attenuation 0.40–0.48 (below grain tissue, above air), optional (``stem=False``);
* ``n_grains`` **grains**: kernels with semi-axes drawn from ``grain_size`` (the long semi-axis, voxels) with
  width and thickness 50–70 % of it, random orientation, tissue attenuation 0.85–1.0 with a smooth field of
  std 0.03 and a denser coat (+0.05, 1 voxel), each wrapped in a **husk** ``husk`` voxels thick (attenuation
  0.45–0.55, as the lemma and palea of hulled barley; ``husk=0`` for naked grains). Grains sit around the stem,
  touching it along their radial direction; ``touching_pairs`` of them are placed against a neighbour so that
  their outer surfaces overlap by 1–2 voxels along the line between the centres (the husks of the two grains
  are pressed together, as in a real ear); every other pair keeps ``gap`` voxels of air between them;
* ``specks``: tiny dense blobs (radius ≤ 1.5 voxels), i.e. debris that is not a grain;
* partial volume (Gaussian blur, σ = 0.7 voxel) and Gaussian noise of std ``noise`` (0.04: a tissue-to-air
  contrast-to-noise of ≈ 22).

``labels`` holds 0 outside kernels and ``k`` (1-based, in the order of :attr:`EarPhantom.grains`) inside the
kernel of grain k (the husk is not the grain); where two touching grains overlap, a voxel belongs to the grain
whose normalised ellipsoid distance is smaller.
Voxels are isotropic, of ``spacing`` mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from seedlens.data.synthetic._random import RNGLike, random_rotation

BLUR_SIGMA = 0.7


@dataclass(frozen=True)
class GrainTruth:
    """One grain of a phantom: its geometry in voxels of the scan."""

    centre: tuple[float, float, float]
    semi_axes: tuple[float, float, float]  # of the kernel: long, width, thickness (voxels)
    rotation: np.ndarray  # (3, 3): columns are the grain's axes in scan coordinates
    voxels: int  # voxels of this grain in ``labels``

    @property
    def volume(self) -> float:
        """Analytic ellipsoid volume in voxels, 4/3 π a b c."""
        a, b, c = self.semi_axes
        return 4.0 / 3.0 * np.pi * a * b * c


@dataclass
class EarPhantom:
    """A multi-grain scan and its truth.

    Attributes:
        volume: ``(D, H, W)`` float32 attenuation, air ≈ 0, grain tissue ≈ 0.9.
        labels: ``(D, H, W)`` int32 grain instance labels (0 = not a grain).
        stem: ``(D, H, W)`` bool mask of the stem.
        grains: truth per grain, ``labels == k + 1`` is ``grains[k]``.
        touching: pairs ``(i, j)`` of 0-based grain indices placed in contact.
        spacing: voxel size in mm (isotropic).
    """

    volume: np.ndarray
    labels: np.ndarray
    stem: np.ndarray
    grains: list[GrainTruth]
    touching: list[tuple[int, int]]
    spacing: float


def _extent(rotation: np.ndarray, axes: np.ndarray, direction: np.ndarray) -> float:
    """Distance from an ellipsoid's centre to its surface along the unit ``direction``."""
    local = rotation.T @ direction
    return float(1.0 / np.sqrt(np.sum((local / axes) ** 2)))


def _draw_grain(
    rng: np.random.Generator, grain_size: tuple[float, float], husk: float
) -> tuple[np.ndarray, np.ndarray]:
    """Outer semi-axes (kernel + husk) and rotation of one grain."""
    long = rng.uniform(*grain_size)
    axes = np.array([long, long * rng.uniform(0.5, 0.7), long * rng.uniform(0.5, 0.7)])
    return axes + husk, random_rotation(rng)


def make_ear_phantom(
    n_grains: int = 8,
    *,
    touching_pairs: int = 0,
    grain_size: tuple[float, float] = (9.0, 12.0),
    shape: tuple[int, int, int] | None = None,
    stem: bool = True,
    stem_radius: float = 2.5,
    husk: float = 1.5,
    specks: int = 3,
    gap: float = 3.0,
    noise: float = 0.04,
    spacing: float = 0.05,
    rng: RNGLike = None,
) -> EarPhantom:
    """Draw a scan of ``n_grains`` grains around a stem.

    Args:
        n_grains: How many grains (≥ 1).
        touching_pairs: How many grains are placed against the previous one (≤ ``n_grains // 2``).
        grain_size: Range of the long semi-axis in voxels.
        shape: Volume shape ``(D, H, W)``; by default tall enough for the grains in two columns.
        stem: Draw the stem.
        stem_radius: Stem radius in voxels.
        husk: Husk thickness in voxels around each kernel (0 = naked grains).
        specks: Tiny dense blobs that are not grains.
        gap: Minimum distance in voxels between the bounding spheres of grains that do not touch.
        noise: Standard deviation of the additive noise.
        spacing: Voxel size in mm, recorded on the phantom.
        rng: Seed or generator.

    Returns:
        The phantom with its instance labels.

    Raises:
        ValueError: impossible counts, or the grains do not fit in ``shape``.
    """
    if n_grains < 1:
        raise ValueError(f"n_grains must be at least 1, got {n_grains}")
    if not 0 <= touching_pairs <= n_grains // 2:
        raise ValueError(f"touching_pairs must be between 0 and n_grains // 2 = {n_grains // 2}, got {touching_pairs}")
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    long_max = grain_size[1]
    if shape is None:
        side = int(2 * (stem_radius + 2 * long_max) + 8)
        shape = (int((n_grains / 2 + 1) * (1.6 * long_max + gap) + 8), side, side)
    depth, height, width = shape
    axis_yx = np.array([(height - 1) / 2.0, (width - 1) / 2.0])

    grids = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij")
    placed: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # centre, axes, rotation
    touching: list[tuple[int, int]] = []
    # Partners sit at odd indices, each against the grain before it: contacts come in pairs, never chains.
    odd = np.arange(1, n_grains, 2)
    partners = set(gen.choice(odd, size=touching_pairs, replace=False).tolist()) if touching_pairs else set()
    owner = np.zeros(shape, np.int32)  # which grain (1-based) occupies a voxel, with no tie-breaking yet
    clearance = ndimage.generate_binary_structure(3, 1)

    def rasterise(centre: np.ndarray, axes: np.ndarray, rotation: np.ndarray) -> tuple[tuple[slice, ...], np.ndarray]:
        lo = np.floor(centre - axes.max() - 1).astype(int)
        hi = np.ceil(centre + axes.max() + 2).astype(int)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        offsets = np.stack([g[box] - np.float32(c) for g, c in zip(grids, centre, strict=True)])
        scale = axes.astype(np.float32)[:, None, None, None]
        local = np.tensordot(rotation.T.astype(np.float32), offsets, axes=1) / scale
        return box, np.sqrt(np.einsum("i...,i...->...", local, local))

    def fits(centre: np.ndarray, axes: np.ndarray, rotation: np.ndarray, against: int | None) -> bool:
        bound = axes.max()
        if np.any(centre - bound < 2) or np.any(centre + bound > np.array(shape) - 3):
            return False
        box, rho = rasterise(centre, axes, rotation)
        near = ndimage.binary_dilation(rho <= 1.0, clearance, iterations=int(np.ceil(gap)))
        others = owner[box][near]
        return not np.any((others > 0) & (others != (against + 1 if against is not None else -1)))

    for index in range(n_grains):
        for _ in range(2000):
            axes, rotation = _draw_grain(gen, grain_size, husk)
            if index in partners:
                c0, a0, r0 = placed[index - 1]
                direction = gen.normal(size=3)
                direction /= np.linalg.norm(direction)
                distance = _extent(r0, a0, direction) + _extent(rotation, axes, direction) - gen.uniform(1.0, 2.0)
                centre = c0 + distance * direction
                if fits(centre, axes, rotation, against=index - 1):
                    touching.append((index - 1, index))
                    break
            else:
                angle = gen.uniform(0, 2 * np.pi)
                radial = np.array([0.0, np.cos(angle), np.sin(angle)])
                reach = (stem_radius if stem else 0.0) + _extent(rotation, axes, radial) - (0.5 if stem else -2.0)
                z = gen.uniform(axes.max() + 2, depth - axes.max() - 3)
                centre = np.array([z, *(axis_yx + reach * radial[1:])])
                if fits(centre, axes, rotation, against=None):
                    break
        else:
            raise ValueError(f"{n_grains} grains of size {grain_size} do not fit in a volume of shape {shape}")
        placed.append((centre, axes, rotation))
        box, rho = rasterise(centre, axes, rotation)
        owner[box][(rho <= 1.0) & (owner[box] == 0)] = index + 1

    clean = np.zeros(shape, np.float32)
    labels = np.zeros(shape, np.int32)
    best = np.full(shape, np.inf, np.float32)
    husk_value = np.float32(gen.uniform(0.45, 0.55))
    for k, (centre, axes, rotation) in enumerate(placed):
        box, rho = rasterise(centre, axes, rotation)
        outer = (rho <= 1.0) & (rho < best[box])
        kernel_box, kernel_rho = rasterise(centre, axes - husk, rotation)
        kernel_rho = _aligned(kernel_rho, kernel_box, box)
        field = ndimage.gaussian_filter(gen.normal(size=rho.shape), 2.0)
        tissue = gen.uniform(0.85, 1.0) + 0.03 * field / max(float(field.std()), 1e-6)
        coat = kernel_rho > 1.0 - 1.0 / (axes - husk).min()
        value = np.where(coat, tissue + 0.05, tissue).astype(np.float32)
        kernel = outer & (kernel_rho <= 1.0)
        clean[box][outer] = husk_value
        clean[box][kernel] = value[kernel]
        labels[box][outer] = 0
        labels[box][kernel] = k + 1
        best[box][outer] = rho[outer]
    stem_mask = np.zeros(shape, bool)
    if stem:
        radial = np.hypot(grids[1] - axis_yx[0], grids[2] - axis_yx[1])
        stem_mask = (radial <= stem_radius) & (labels == 0)
        clean[stem_mask] = gen.uniform(0.40, 0.48)
    for _ in range(specks):
        spot = np.array([gen.uniform(2, n - 3) for n in shape])
        radius = gen.uniform(0.8, 1.5)
        blob = sum((g - np.float32(c)) ** 2 for g, c in zip(grids, spot, strict=True)) <= radius**2
        blob &= labels == 0
        clean[blob] = 0.95
    volume = ndimage.gaussian_filter(clean, BLUR_SIGMA) + gen.normal(0.0, noise, size=shape).astype(np.float32)
    grains = [GrainTruth(tuple(map(float, c)), tuple(map(float, a - husk)), r, int((labels == k + 1).sum()))  # type: ignore[arg-type]
              for k, (c, a, r) in enumerate(placed)]
    return EarPhantom(volume.astype(np.float32), labels, stem_mask, grains, touching, spacing)



def _aligned(values: np.ndarray, box: tuple[slice, ...], target: tuple[slice, ...]) -> np.ndarray:
    """``values`` on the grid ``box`` cut or padded (with inf) to the grid ``target``."""
    out = np.full(tuple(t.stop - t.start for t in target), np.inf, np.float32)
    pairs = list(zip(box, target, strict=True))
    src = tuple(slice(max(t.start, b.start) - b.start, min(t.stop, b.stop) - b.start) for b, t in pairs)
    dst = tuple(slice(max(t.start, b.start) - t.start, min(t.stop, b.stop) - t.start) for b, t in pairs)
    out[dst] = values[src]
    return out
