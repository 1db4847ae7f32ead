"""2D CT slices of seed phantoms: one axial slice of a :func:`~seedlens.data.synthetic.make_seed_volume` phantom.

The slice lies in the central band of the seed (within ±35 % of the seed's radius from its centre along the
depth axis), so normal and defective slices show seeds of the same size. A normal seed is cut at a random
position in that band; a defective one through the defect, at the band slice where the defect's area is the
largest while covering **0.5–5 %** of the seed's cross-section (the phantom is drawn again when no slice does).
Intensities, blur and noise (SNR ≈ 14) are those of the volume phantoms; see
:mod:`seedlens.data.synthetic.phantom`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seedlens.data.synthetic._random import RNGLike, check_defect, check_size, child_generators
from seedlens.data.synthetic.phantom import DEFECT_FRACTION_RANGE, DEFECT_TYPES, make_seed_volume

CENTRAL_BAND = 0.35


@dataclass
class SeedSlice:
    """One synthetic CT slice of a seed.

    Attributes:
        image: ``(1, H, W)`` float32 attenuation (air ≈ 0, tissue ≈ 0.6–0.8, coat ≈ 1), blurred and noisy.
        defect_mask: ``(1, H, W)`` bool, the pixels the defect changed (all False for a normal seed).
        seed_mask: ``(1, H, W)`` bool, the pixels inside the seed.
        defect: The defect type (one of :data:`~seedlens.data.synthetic.DEFECT_TYPES`) or None.
        spacing: Pixel size in mm along ``(H, W)``.
        params: The drawn defect parameters plus ``slice_index`` and the in-slice ``fraction``.
    """

    image: np.ndarray
    defect_mask: np.ndarray
    seed_mask: np.ndarray
    defect: str | None
    spacing: tuple[float, float]
    params: dict[str, float] = field(default_factory=dict)


def make_seed_slice(size: int = 64, defect: str | None = None, rng: RNGLike = None, max_tries: int = 50) -> SeedSlice:
    """Generate one 2D CT slice of a seed phantom, through the defect when there is one.

    Args:
        size: Edge length of the square image in pixels (>= 16); the phantom volume is ``size``³.
        defect: None for a normal seed, or one of :data:`~seedlens.data.synthetic.DEFECT_TYPES`.
        rng: A numpy Generator (advanced by the call), an int seed, or None for fresh entropy.
        max_tries: Phantoms to draw at most before giving up on a slice with a 0.5–5 % defect.

    Returns:
        A :class:`SeedSlice` with ``image`` ``(1, size, size)`` float32 and masks of the same shape.

    Raises:
        ConfigError: If ``size`` is not an int >= 16.
        UnknownNameError: If ``defect`` is not None and not a known defect type.
        RuntimeError: If no phantom of ``max_tries`` has a slice with a defect in range (not seen in practice).
    """
    check_size(size, 16)
    check_defect(defect, DEFECT_TYPES)
    volume_rng, pick_rng = child_generators(rng, 2)
    lo, hi = DEFECT_FRACTION_RANGE
    for _ in range(max_tries):
        ph = make_seed_volume(size, defect, volume_rng)
        seed = ph.seed_mask[0]
        area = seed.sum(axis=(1, 2))
        depth = np.nonzero(area)[0]
        centre, radius = (depth[0] + depth[-1]) / 2.0, (depth[-1] - depth[0] + 1) / 2.0
        half = CENTRAL_BAND * radius
        band = np.arange(int(np.ceil(centre - half)), int(np.floor(centre + half)) + 1)
        if defect is None:
            index = int(pick_rng.choice(band))
        else:
            defect_area = ph.defect_mask[0][band].sum(axis=(1, 2))
            fraction = defect_area / area[band]
            ok = (fraction >= lo) & (fraction <= hi)
            if not ok.any():
                continue
            index = int(band[np.argmax(np.where(ok, defect_area, -1))])
        params = dict(ph.params)
        params["slice_index"] = float(index)
        params["fraction"] = float(ph.defect_mask[0, index].sum() / area[index])
        return SeedSlice(
            image=ph.volume[:, index].copy(),
            defect_mask=ph.defect_mask[:, index].copy(),
            seed_mask=ph.seed_mask[:, index].copy(),
            defect=defect,
            spacing=(ph.spacing[1], ph.spacing[2]),
            params=params,
        )
    raise RuntimeError(f"no slice with a {defect!r} defect covering {DEFECT_FRACTION_RANGE} in {max_tries} phantoms")
