"""Noise-free anatomy of a rapeseed seed phantom: tissue labels and attenuation values on a voxel grid.

The seed is modelled in a *local normalised frame* ``u`` in which the seed is the unit ball: ``u = R^T (x - c) / a``
(x voxel position, c centre, R a random rotation, a the three semi-axes). Inside it:

* coat: the shell ``1 - t < |u| <= 1`` (t = coat thickness / mean radius);
* radicle (embryo axis): a tapering tube around a circular arc that runs just inside the coat;
* cotyledons: the rest of the interior, folded around the radicle; thin low-density gaps separate the radicle
  from the inner cotyledon and the inner from the outer cotyledon (shells at fixed distances from the arc);
* tissue texture: layering parallel to the fold and a weak smooth random field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seedlens.data.synthetic._random import random_rotation

AIR, COAT, COTYLEDON, RADICLE, GAP = 0, 1, 2, 3, 4


@dataclass
class Radicle:
    """A tube of radius ``radius * (1 - taper * s)`` around an arc in the local plane ``u_z = z0``."""

    arc_radius: float
    z0: float
    theta0: float
    span: float
    radius: float
    taper: float = 0.35

    def distance(self, u: np.ndarray, span_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Distance of every point to the arc and the arc parameter s in [0, 1] of the closest arc point."""
        span = self.span * span_scale
        alpha = np.mod(np.arctan2(u[1], u[0]) - self.theta0, 2 * np.pi)
        beyond = alpha > span
        s = np.where(beyond, np.where(alpha - span < 2 * np.pi - alpha, 1.0, 0.0), alpha / span).astype(np.float32)
        theta = self.theta0 + s * span
        dx = u[0] - self.arc_radius * np.cos(theta)
        dy = u[1] - self.arc_radius * np.sin(theta)
        dz = u[2] - self.z0
        return np.sqrt(dx * dx + dy * dy + dz * dz), s

    def local_radius(self, s: np.ndarray, radius_scale: float = 1.0) -> np.ndarray:
        """Tube radius at arc parameter ``s``."""
        return self.radius * radius_scale * (1.0 - self.taper * s)


@dataclass
class Anatomy:
    """Labels, clean values and the geometry needed to place defects."""

    u: np.ndarray  # (3, D, H, W) local normalised coordinates
    rho: np.ndarray  # (D, H, W) |u|
    labels: np.ndarray  # (D, H, W) int8, AIR/COAT/COTYLEDON/RADICLE/GAP
    values: np.ndarray  # (D, H, W) float32 attenuation before blur and noise
    mean_radius: float  # voxels
    coat_thickness: float  # normalised units
    gap_width: float  # normalised units
    radicle: Radicle
    densities: dict[str, float]

    @property
    def seed(self) -> np.ndarray:
        """Boolean seed mask."""
        return self.labels != AIR

    @property
    def interior(self) -> np.ndarray:
        """Boolean mask inside the coat."""
        return self.rho <= 1.0 - self.coat_thickness


def make_anatomy(size: int, rng: np.random.Generator) -> Anatomy:
    """Draw one seed's anatomy on a ``size``³ grid."""
    mean_radius = 0.5 * size * rng.uniform(0.68, 0.80)
    axes = mean_radius * (1.0 + rng.uniform(-0.08, 0.08, size=3))
    centre = (size - 1) / 2.0 + rng.uniform(-0.03, 0.03, size=3) * size
    rotation = random_rotation(rng)

    grid = np.arange(size, dtype=np.float32)
    p = [(grid - np.float32(centre[i])).reshape([-1 if j == i else 1 for j in range(3)]) for i in range(3)]
    rot = rotation.astype(np.float32)
    u = np.stack([(rot[0, k] * p[0] + rot[1, k] * p[1] + rot[2, k] * p[2]) / np.float32(axes[k]) for k in range(3)])
    rho = np.sqrt(np.einsum("i...,i...->...", u, u))

    coat_t = max(1.3, 0.07 * mean_radius) / mean_radius
    gap_w = max(0.8, 0.035 * mean_radius) / mean_radius
    radius = rng.uniform(0.17, 0.22)
    radicle = Radicle(
        arc_radius=1.0 - coat_t - radius - gap_w - 0.02,
        z0=rng.uniform(-0.15, 0.15),
        theta0=rng.uniform(0, 2 * np.pi),
        span=rng.uniform(0.42, 0.6) * np.pi,
        radius=radius,
    )
    d_arc, s = radicle.distance(u)
    r_loc = radicle.local_radius(s)

    # Cotyledon fold: a gap shell around the radicle arc, made wavy so that each seed folds differently.
    theta = np.arctan2(u[1], u[0])
    fold_r = rng.uniform(0.5, 0.68)
    wave = rng.uniform(0.02, 0.07) * np.sin(rng.integers(1, 4) * theta + rng.uniform(0, 2 * np.pi))
    wave += rng.uniform(0.0, 0.05) * np.cos(np.pi * u[2] * rng.uniform(1.0, 2.5) + rng.uniform(0, 2 * np.pi))
    fold_distance = d_arc - fold_r - wave

    dens = {
        "coat": float(rng.uniform(0.95, 1.05)),
        "cotyledon": float(rng.uniform(0.64, 0.74)),
        "gap": float(rng.uniform(0.14, 0.24)),
    }
    dens["radicle"] = dens["cotyledon"] + float(rng.uniform(0.04, 0.08))

    labels = np.zeros(rho.shape, dtype=np.int8)
    labels[rho <= 1.0] = COAT
    interior = rho <= 1.0 - coat_t
    labels[interior] = COTYLEDON
    labels[interior & (np.abs(fold_distance) < gap_w / 2)] = GAP
    labels[interior & (d_arc < r_loc + gap_w)] = GAP
    labels[interior & (d_arc < r_loc)] = RADICLE

    # Layered tissue parallel to the fold plus a weak smooth random field (a few random plane waves).
    period = rng.uniform(0.12, 0.2)
    layers = 0.025 * np.cos(2 * np.pi * d_arc / period + rng.uniform(0, 2 * np.pi))
    field = np.zeros_like(rho)
    for _ in range(3):
        k = rng.normal(size=3) * 3.0
        field += np.cos(k[0] * u[0] + k[1] * u[1] + k[2] * u[2] + rng.uniform(0, 2 * np.pi))
    texture = (layers + 0.012 * field).astype(np.float32)

    values = np.zeros(rho.shape, dtype=np.float32)
    values[labels == COAT] = dens["coat"]
    values[labels == GAP] = dens["gap"]
    tissue = labels == COTYLEDON
    values[tissue] = dens["cotyledon"] + texture[tissue]
    rad = labels == RADICLE
    values[rad] = dens["radicle"] + 0.4 * texture[rad]

    return Anatomy(
        u=u,
        rho=rho,
        labels=labels,
        values=values,
        mean_radius=mean_radius,
        coat_thickness=coat_t,
        gap_width=gap_w,
        radicle=radicle,
        densities=dens,
    )
