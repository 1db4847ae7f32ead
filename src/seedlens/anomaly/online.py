"""Online supervision: replace part of a batch of normal samples by generated anomalies."""

from __future__ import annotations

import torch
from torch import Tensor

from seedlens.anomaly.generator import AnomalyGenerator
from seedlens.errors import ConfigError, ShapeError


class OnlineReplacement:
    """Replace each sample of a batch, with probability ``p``, by its corrupted version (FCDD's online supervision).

    A generator with a ``batch(x, generator)`` method (:class:`ConfettiNoise`) corrupts the whole selection at
    once on the batch's device; any other is called sample by sample.

    Args:
        generator: The anomaly generator applied to each replaced sample, e.g. :class:`ConfettiNoise` or
            :class:`OutlierExposure` (any :class:`AnomalyGenerator`).
        p: Probability that a sample is replaced; 0.5 gives about balanced batches.

    Raises:
        ConfigError: If ``p`` is not in [0, 1].

    Example:
        >>> online = OnlineReplacement(ConfettiNoise(spatial_dims=2), p=0.5)
        >>> x, labels, masks = online(batch, torch.Generator().manual_seed(0))
    """

    def __init__(self, generator: AnomalyGenerator, p: float = 0.5) -> None:
        if not 0.0 <= float(p) <= 1.0:
            raise ConfigError(f"p must be in [0, 1]; got {p!r}")
        if not callable(generator):
            raise ConfigError(f"generator must be callable as generator(x, torch_generator); got {generator!r}")
        self.generator = generator
        self.p = float(p)

    def __repr__(self) -> str:
        return f"OnlineReplacement({self.generator!r}, p={self.p})"

    @property
    def batched(self) -> bool:
        """Whether the generator corrupts whole batches (``batch(x, generator)``) on the batch's device."""
        return callable(getattr(self.generator, "batch", None))

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Corrupt a random part of a batch.

        Args:
            x: Batch ``(N, C, *spatial)``; it is not modified.
            generator: Torch random generator for the replacement draws and the anomaly generator.

        Returns:
            ``(x', labels, masks)``: the batch with replaced samples, ``(N,)`` float labels (1 = replaced) and
            ``(N, 1, *spatial)`` masks in the dtype of ``x`` (all zero for the samples left normal).

        Raises:
            ShapeError: If ``x`` has fewer than 3 axes.
        """
        if x.dim() < 3:
            raise ShapeError(f"x must be a batch (N, C, *spatial); got {tuple(x.shape)}")
        device = generator.device if generator is not None else torch.device("cpu")
        replace = (torch.rand(x.shape[0], generator=generator, device=device) < self.p).to(x.device)
        out = x.clone()
        masks = torch.zeros((x.shape[0], 1, *x.shape[2:]), dtype=x.dtype, device=x.device)
        chosen = torch.nonzero(replace).flatten()
        if chosen.numel() == 0:
            return out, replace.float(), masks
        if self.batched:  # the whole selection at once, on the batch's device
            corrupted, drawn = getattr(self.generator, "batch")(x[chosen], generator)  # noqa: B009
            out[chosen], masks[chosen] = corrupted.to(x.dtype), drawn.to(x.dtype)
        else:
            for i in chosen.tolist():
                corrupted, mask = self.generator(x[i], generator)
                out[i] = corrupted
                masks[i] = mask
        return out, replace.float(), masks
