"""PNG and JPEG through Pillow (16-bit PNG through the small codec in ``_png``) -> image ``(C, H, W)``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from seedlens.io import _png
from seedlens.io._guard import corrupt_on_error
from seedlens.io._layout import native, relabel
from seedlens.types import ArrayMeta, Modality

# Pillow modes kept as they are; every other mode is converted to the one named here first.
_KEEP = {"L", "LA", "RGB", "RGBA", "I;16", "I;16L", "I;16B", "I", "F"}
_CONVERT = {"1": "L", "P": "RGB", "PA": "RGBA", "La": "LA", "RGBa": "RGBA"}


def _pillow_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode not in _KEEP:
        transparent = mode == "P" and "transparency" in image.info
        mode = "RGBA" if transparent else _CONVERT.get(mode, "RGB")  # CMYK, YCbCr, LAB, HSV... -> RGB
        image = image.convert(mode)
    array = np.asarray(image)
    if image.mode == "I" and image.format == "PNG":  # Pillow widens some 16-bit grey PNGs to int32
        array = array.astype(np.uint16)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def read(path: Path, hint: Modality | None) -> tuple[np.ndarray, ArrayMeta]:
    data = path.read_bytes()
    extra: dict[str, object] = {}
    with corrupt_on_error(path, "cannot decode image"):
        header = _png.read_header(data) if data.startswith(_png.SIGNATURE) else None
        if header is not None and header.bit_depth == 16 and not header.interlaced and header.colour_type != 3:
            array = _png.decode(data)
        else:
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                extra["mode"] = opened.mode
                orientation = opened.getexif().get(0x0112, 1)
                upright = ImageOps.exif_transpose(opened) if orientation != 1 else opened
                if orientation != 1:
                    extra["exif_orientation_applied"] = orientation
                upright.format = opened.format
                array = _pillow_array(upright)
    array = native(array)
    modality = relabel(array, Modality.IMAGE, hint, path)
    return array, ArrayMeta(modality=modality, spacing=None, source=path, extra=extra)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a validated ``(C, H, W)`` uint8/uint16 image."""
    if image.dtype == np.uint16:
        return _png.encode(image)
    pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return buffer.getvalue()
