"""Dimension-agnostic layer factories and a builder that tracks the receptive field as layers are added.

One code path serves 1D, 2D and 3D networks: ``spatial_dims`` picks ``Conv2d`` or ``Conv3d``, the pooling and
the norm, and :class:`FeatureBuilder` updates a :class:`~seedlens.models.receptive_field.ReceptiveField` with
every convolution and pool it creates, so a network built with it knows where each output cell looks.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from seedlens.errors import ConfigError, UnknownNameError
from seedlens.models.receptive_field import ReceptiveField

_CONV: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_POOL: dict[tuple[int, str], type[nn.Module]] = {
    (1, "max"): nn.MaxPool1d,
    (2, "max"): nn.MaxPool2d,
    (3, "max"): nn.MaxPool3d,
    (1, "avg"): nn.AvgPool1d,
    (2, "avg"): nn.AvgPool2d,
    (3, "avg"): nn.AvgPool3d,
}
_NORM: dict[tuple[int, str], type[nn.Module]] = {
    (1, "batch"): nn.BatchNorm1d,
    (2, "batch"): nn.BatchNorm2d,
    (3, "batch"): nn.BatchNorm3d,
    (1, "instance"): nn.InstanceNorm1d,
    (2, "instance"): nn.InstanceNorm2d,
    (3, "instance"): nn.InstanceNorm3d,
}
_ACT: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "relu6": nn.ReLU6,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}
#: Norm kinds accepted by :func:`norm_cls` and :meth:`FeatureBuilder.norm` (None means no norm).
NORM_KINDS = ("batch", "instance", "group", None)


def _check_dims(spatial_dims: int) -> int:
    if spatial_dims not in (1, 2, 3):
        raise ConfigError(f"spatial_dims must be 1, 2 or 3; got {spatial_dims!r}")
    return int(spatial_dims)


def conv_cls(spatial_dims: int) -> type[nn.Module]:
    """Return ``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d`` for ``spatial_dims`` 1, 2 or 3.

    Raises:
        ConfigError: ``spatial_dims`` is not 1, 2 or 3.
    """
    return _CONV[_check_dims(spatial_dims)]


def pool_cls(spatial_dims: int, kind: str = "max") -> type[nn.Module]:
    """Return the max or average pooling class for ``spatial_dims`` 1, 2 or 3.

    Args:
        spatial_dims: Number of spatial axes.
        kind: ``"max"`` or ``"avg"``.

    Raises:
        ConfigError: ``spatial_dims`` is not 1, 2 or 3.
        UnknownNameError: ``kind`` is not ``"max"`` or ``"avg"``.
    """
    dims = _check_dims(spatial_dims)
    if kind not in ("max", "avg"):
        raise UnknownNameError(f"unknown pooling kind {kind!r}; expected 'max' or 'avg'")
    return _POOL[(dims, kind)]


def norm_cls(spatial_dims: int, kind: str | None = "batch") -> type[nn.Module]:
    """Return the norm class for ``spatial_dims``: batch, instance, group norm, or ``nn.Identity`` for None.

    ``nn.GroupNorm`` takes ``(num_groups, num_channels)``; the others take ``num_features`` as first argument
    (:meth:`FeatureBuilder.norm` handles the difference).

    Raises:
        ConfigError: ``spatial_dims`` is not 1, 2 or 3.
        UnknownNameError: ``kind`` is not one of ``"batch"``, ``"instance"``, ``"group"``, None.
    """
    dims = _check_dims(spatial_dims)
    if kind is None:
        return nn.Identity
    if kind == "group":
        return nn.GroupNorm
    if kind not in ("batch", "instance"):
        raise UnknownNameError(f"unknown norm kind {kind!r}; expected one of 'batch', 'instance', 'group', None")
    return _NORM[(dims, kind)]


def make_activation(name: str, negative_slope: float = 0.01) -> nn.Module:
    """Return a fresh activation module by name.

    Args:
        name: One of ``relu``, ``leaky_relu``, ``relu6``, ``elu``, ``gelu``, ``silu``, ``tanh``, ``sigmoid``,
            ``identity``.
        negative_slope: Slope of ``leaky_relu`` for negative inputs.

    Raises:
        UnknownNameError: ``name`` is not a known activation; the message lists the known ones.
    """
    key = str(name).lower()
    if key == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    if key not in _ACT:
        raise UnknownNameError(f"unknown activation {name!r}; known activations: {', '.join(sorted(_ACT))}")
    return _ACT[key]()


class FeatureBuilder:
    """Build a feature extractor layer by layer while tracking its channels and receptive field.

    Methods return the builder so calls chain. Kernels are isotropic; even kernels and zero padding work.

    Args:
        spatial_dims: 1, 2 or 3 (picks ``Conv{1,2,3}d``, pooling and norms).
        in_channels: Channels of the input ``(N, in_channels, *spatial)``.

    Example:
        >>> b = FeatureBuilder(spatial_dims=2, in_channels=1)
        >>> b.conv(128, kernel=5, padding=2, bias=False).norm().act("leaky_relu").pool(2)
        >>> b.receptive_field
        ReceptiveField(extent=6, jump=2, shift=0.5)
        >>> net = b.build()  # nn.Sequential: (N, 1, H, W) -> (N, 128, H // 2, W // 2)
    """

    def __init__(self, spatial_dims: int, in_channels: int) -> None:
        self.spatial_dims = _check_dims(spatial_dims)
        if int(in_channels) != in_channels or in_channels < 1:
            raise ConfigError(f"in_channels must be a positive integer; got {in_channels!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(in_channels)
        self.receptive_field = ReceptiveField()
        self._layers: list[nn.Module] = []

    def conv(
        self,
        out_channels: int,
        kernel: int = 3,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> FeatureBuilder:
        """Add a convolution ``(N, C, *s) -> (N, out_channels, *s')``; see ``torch.nn.Conv2d`` for the arguments."""
        if int(out_channels) != out_channels or out_channels < 1:
            raise ConfigError(f"out_channels must be a positive integer; got {out_channels!r}")
        self.receptive_field = self.receptive_field.after(kernel, stride, padding, dilation)
        layer = conv_cls(self.spatial_dims)(
            self.out_channels,
            int(out_channels),
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        self._layers.append(layer)
        self.out_channels = int(out_channels)
        return self

    def norm(self, kind: str | None = "batch", groups: int = 8) -> FeatureBuilder:
        """Add a norm over the current channels (``kind`` as in :func:`norm_cls`; ``groups`` for group norm)."""
        cls = norm_cls(self.spatial_dims, kind)
        if kind is None:
            return self
        if kind == "group":
            n_groups = min(groups, self.out_channels)
            while self.out_channels % n_groups:
                n_groups -= 1
            self._layers.append(cls(n_groups, self.out_channels))
        elif kind == "instance":
            self._layers.append(cls(self.out_channels, affine=True))
        else:
            self._layers.append(cls(self.out_channels))
        return self

    def act(self, name: str = "leaky_relu", negative_slope: float = 0.01) -> FeatureBuilder:
        """Add an element-wise activation (see :func:`make_activation`)."""
        self._layers.append(make_activation(name, negative_slope))
        return self

    def pool(self, kernel: int = 2, stride: int | None = None, padding: int = 0, kind: str = "max") -> FeatureBuilder:
        """Add max or average pooling; ``stride`` defaults to ``kernel``."""
        stride = kernel if stride is None else stride
        cls = pool_cls(self.spatial_dims, kind)
        self.receptive_field = self.receptive_field.after(kernel, stride, padding)
        self._layers.append(cls(kernel_size=kernel, stride=stride, padding=padding))
        return self

    def add(
        self, module: nn.Module, receptive_field: ReceptiveField | None = None, out_channels: int | None = None
    ) -> FeatureBuilder:
        """Add any module; pass its effect on the receptive field and channels if it has one.

        Args:
            module: The module to append.
            receptive_field: Receptive field *after* the module, if it changes it (default: unchanged).
            out_channels: Channels after the module, if it changes them (default: unchanged).
        """
        self._layers.append(module)
        if receptive_field is not None:
            self.receptive_field = receptive_field
        if out_channels is not None:
            self.out_channels = int(out_channels)
        return self

    def build(self) -> nn.Sequential:
        """Return the layers added so far as an ``nn.Sequential`` (the builder can keep growing afterwards)."""
        return nn.Sequential(*self._layers)
