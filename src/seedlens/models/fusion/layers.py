"""Fusion layers: combine modality embeddings ``(N, M, dim)`` with a presence mask ``(N, M)`` into ``(N, dim)``.

A missing modality's embedding is ignored exactly (masked), never imputed, so the same network predicts from
any subset of its modalities, including none (its prior).
"""

from __future__ import annotations

import torch
from torch import nn

from seedlens.models._options import positive_int
from seedlens.registry import Registry

FUSIONS = Registry[nn.Module]("fusion")


@FUSIONS.register("concat")
class ConcatFusion(nn.Module):
    """Concatenation of the (zeroed when missing) embeddings and the presence flags, then a 2-layer MLP.

    Args:
        n_modalities: Number of modality slots ``M``.
        dim: Embedding length (input and output).
        dropout: Dropout of the MLP.
    """

    def __init__(self, n_modalities: int, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        m, d = positive_int("n_modalities", n_modalities), positive_int("dim", dim)
        self.mlp = nn.Sequential(
            nn.Linear(m * d + m, 2 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * d, d), nn.GELU()
        )

    def forward(self, embeddings: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Fuse ``(N, M, dim)`` embeddings with a ``(N, M)`` bool presence mask into ``(N, dim)``."""
        flags = present.to(embeddings.dtype)
        masked = embeddings * flags.unsqueeze(-1)
        return self.mlp(torch.cat([masked.flatten(1), flags], dim=1))


@FUSIONS.register("attention")
class AttentionFusion(nn.Module):
    """A transformer over modality tokens with a learned summary (CLS) token.

    Each embedding gets a learned token of its modality added; missing modalities are masked out of the
    attention (``key_padding_mask``), so they neither contribute nor receive anything. The CLS token is never
    masked, which keeps every row defined when all modalities are missing. The output is the CLS token.

    Args:
        n_modalities: Number of modality slots ``M``.
        dim: Embedding length (input and output).
        heads: Attention heads (must divide ``dim``).
        layers: Transformer layers.
        dropout: Dropout inside the transformer.
    """

    def __init__(self, n_modalities: int, dim: int, heads: int = 4, layers: int = 2, dropout: float = 0.1) -> None:
        super().__init__()
        m, d = positive_int("n_modalities", n_modalities), positive_int("dim", dim)
        if d % positive_int("heads", heads):
            from seedlens.errors import ConfigError

            raise ConfigError(f"heads ({heads}) must divide dim ({d})")
        self.modality_tokens = nn.Parameter(torch.randn(m, d) * 0.02)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d, heads, dim_feedforward=2 * d, dropout=dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, positive_int("layers", layers), enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, embeddings: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Fuse ``(N, M, dim)`` embeddings with a ``(N, M)`` bool presence mask into ``(N, dim)``."""
        n = embeddings.shape[0]
        tokens = torch.cat([self.cls.expand(n, -1, -1), embeddings + self.modality_tokens], dim=1)
        padding = torch.cat([torch.zeros(n, 1, dtype=torch.bool, device=present.device), ~present.bool()], dim=1)
        return self.norm(self.encoder(tokens, src_key_padding_mask=padding)[:, 0])


def create_fusion(name: str, n_modalities: int, dim: int, **options: object) -> nn.Module:
    """Build the fusion layer registered as ``name`` (``"attention"`` or ``"concat"``)."""
    return FUSIONS.create(name, n_modalities=n_modalities, dim=dim, **options)
