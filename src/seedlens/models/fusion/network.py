"""``FusionNet``: one encoder per modality, a fusion layer, and one head per prediction target."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from seedlens.errors import ConfigError, ShapeError
from seedlens.models.fusion.encoders import ModalityEncoder
from seedlens.models.fusion.layers import create_fusion


class FusionNet(nn.Module):
    """Multi-modal network: ``{modality: batch}`` + presence mask -> ``{target: output}``.

    Each modality has its own encoder (any :class:`ModalityEncoder`, e.g. a 3D CT backbone, a spectral-spatial
    cube backbone, a 2D image backbone, an MLP for a table column); a fusion layer combines their embeddings and
    linear heads give one output per target (class logits ``(N, K)`` or a standardised trait value ``(N, 1)``).

    Encoders only run on the rows where their modality is present, so a missing CT costs nothing and its
    placeholder values never matter. With ``modality_dropout > 0`` and the module in training mode, present
    modalities are hidden at random (each with that probability, at least one kept per sample), which teaches the
    network to predict from any subset.

    Args:
        encoders: Encoder per modality name, in a fixed order (the order of the presence mask's columns).
        heads: Output size per target name (number of classes, or 1 for a trait).
        fusion: ``"attention"`` or ``"concat"``.
        dim: Embedding length every encoder must produce.
        modality_dropout: Probability of hiding each present modality of a training sample.
        fusion_options: Options of the fusion layer (``heads``, ``layers``, ``dropout``).
    """

    def __init__(
        self,
        encoders: Mapping[str, ModalityEncoder],
        heads: Mapping[str, int],
        *,
        fusion: str = "attention",
        dim: int = 64,
        modality_dropout: float = 0.0,
        fusion_options: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__()
        if not encoders:
            raise ConfigError("FusionNet needs at least one modality encoder")
        if not heads:
            raise ConfigError("FusionNet needs at least one target head")
        for name, encoder in encoders.items():
            if encoder.dim != dim:
                raise ConfigError(f"encoder {name!r} gives embeddings of {encoder.dim}; the fusion expects {dim}")
        if not 0.0 <= modality_dropout < 1.0:
            raise ConfigError(f"modality_dropout must be in [0, 1); got {modality_dropout}")
        self.names = list(encoders)
        self.encoders = nn.ModuleDict(dict(encoders))
        self.fusion = create_fusion(fusion, len(self.names), dim, **dict(fusion_options or {}))
        self.heads = nn.ModuleDict({target: nn.Linear(dim, int(size)) for target, size in heads.items()})
        self.dim = dim
        self.modality_dropout = float(modality_dropout)

    def embed(self, inputs: Mapping[str, torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """Return the embeddings ``(N, M, dim)`` (zero where a modality is missing).

        Args:
            inputs: Batch per modality name, ``(N, ...)`` in the encoder's layout; rows of missing samples are
                ignored (any values).
            present: ``(N, M)`` bool, column ``j`` for modality ``names[j]``.
        """
        n = present.shape[0]
        if present.ndim != 2 or present.shape[1] != len(self.names):
            raise ShapeError(f"present must be (N, {len(self.names)}) for modalities {self.names}; "
                             f"got shape {tuple(present.shape)}")
        reference = next(iter(self.parameters()))
        embeddings = reference.new_zeros((n, len(self.names), self.dim))
        for j, name in enumerate(self.names):
            rows = present[:, j].nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                continue
            if name not in inputs:
                raise ShapeError(f"modality {name!r} is marked present but no batch was given for it")
            x = inputs[name]
            if x.shape[0] != n:
                raise ShapeError(f"modality {name!r} batch has {x.shape[0]} rows; the presence mask has {n}")
            embeddings[rows, j] = self.encoders[name](x[rows]).to(embeddings.dtype)
        return embeddings

    def forward(self, inputs: Mapping[str, torch.Tensor], present: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predict every target.

        Args:
            inputs: Batch per modality name (see :meth:`embed`).
            present: ``(N, M)`` bool presence mask in the order of :attr:`names`.

        Returns:
            ``{target: (N, K)}``: class logits, or ``(N, 1)`` standardised trait values.
        """
        present = present.bool()
        if self.training and self.modality_dropout > 0:
            present = self._drop_modalities(present)
        return self.fuse(self.embed(inputs, present), present)

    def fuse(self, embeddings: torch.Tensor, present: torch.Tensor) -> dict[str, torch.Tensor]:
        """Predict every target from modality embeddings ``(N, M, dim)`` (those :meth:`embed` gives).

        Embeddings of modalities that ``present`` ``(N, M)`` marks missing are ignored, so the embeddings of all
        modalities, computed once, serve every subset of them (evaluation per subset, Shapley coalitions).
        """
        present = present.bool()
        embeddings = embeddings * present.unsqueeze(-1).to(embeddings.dtype)
        fused = self.fusion(embeddings, present)
        return {target: head(fused) for target, head in self.heads.items()}

    def _drop_modalities(self, present: torch.Tensor) -> torch.Tensor:
        keep = torch.rand(present.shape, device=present.device) >= self.modality_dropout
        dropped = present & keep
        empty = ~dropped.any(dim=1) & present.any(dim=1)
        if empty.any():  # keep one random present modality of each sample that lost all
            scores = torch.rand(present.shape, device=present.device).masked_fill(~present, -1.0)
            choice = torch.zeros_like(present).scatter_(1, scores.argmax(dim=1, keepdim=True), True)
            dropped = torch.where(empty.unsqueeze(1), choice, dropped)
        return dropped
