"""Receptive-field arithmetic of a chain of convolutions and pools.

Three numbers describe where an output cell of a feature map looks in the input, along one axis:

* ``extent`` (r): how many input pixels/voxels one output cell sees;
* ``jump`` (j): how far apart, in input pixels, two neighbouring output cells are (the product of strides);
* ``shift`` (s): where the centre of output cell 0 lies in the input.

Input pixel centres sit at integer indices, so output cell ``o`` is centred at input position ``o * jump + shift``.
A layer with kernel ``k``, stride ``t``, left padding ``p`` and dilation ``d`` (effective kernel
``k_eff = d * (k - 1) + 1``) updates them as::

    r += (k_eff - 1) * j
    s += ((k_eff - 1) / 2 - p) * j
    j *= t

Kernels are isotropic (the same along every spatial axis); only the *left* (leading) padding moves the centre,
padding on the trailing side changes the output size only.
"""

from __future__ import annotations

from dataclasses import dataclass

from seedlens.errors import ConfigError


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of one output cell along each spatial axis (the same on every axis).

    Attributes:
        extent: Input pixels/voxels seen by one output cell.
        jump: Distance in input pixels between neighbouring output cells (product of the strides).
        shift: Input position of the centre of output cell 0; cell ``o`` is centred at ``o * jump + shift``.
    """

    extent: float = 1
    jump: float = 1
    shift: float = 0

    def after(self, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> ReceptiveField:
        """Return the receptive field after one more convolution or pooling layer.

        Args:
            kernel: Kernel size (isotropic), at least 1.
            stride: Stride, at least 1.
            padding: Padding on the leading side of each axis (may be 0 or larger than ``kernel // 2``).
            dilation: Dilation, at least 1.

        Returns:
            The receptive field of the layer's output cells in input coordinates.

        Raises:
            ConfigError: ``kernel``, ``stride`` or ``dilation`` is below 1, or ``padding`` is negative.
        """
        for name, value, low in (("kernel", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1)):
            if int(value) != value or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
        if int(padding) != padding or padding < 0:
            raise ConfigError(f"padding must be an integer >= 0; got {padding!r}")
        k_eff = dilation * (kernel - 1) + 1
        return ReceptiveField(
            extent=self.extent + (k_eff - 1) * self.jump,
            jump=self.jump * stride,
            shift=self.shift + ((k_eff - 1) / 2 - padding) * self.jump,
        )

    def centre(self, cell: int) -> float:
        """Return the input position (pixel index, may be half-integer) of the centre of output cell ``cell``."""
        return cell * self.jump + self.shift
