"""A small PNG codec for 8/16-bit non-palette images.

Pillow reduces 16-bit colour PNGs to 8 bits, so seedlens decodes and encodes 16-bit PNGs itself.
Layout on the seedlens side is ``(C, H, W)`` with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 4: 2, 2: 3, 6: 4}  # colour type -> samples per pixel
_COLOUR_TYPE = {c: t for t, c in _CHANNELS.items()}


class PngError(ValueError):
    """The PNG stream is corrupt, truncated or uses a feature this codec does not decode."""


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool


def read_header(data: bytes) -> PngHeader:
    if not data.startswith(SIGNATURE) or len(data) < 29 or data[12:16] != b"IHDR":
        raise PngError("missing PNG signature or IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return PngHeader(width, height, depth, colour, interlace == 1)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise PngError(f"truncated: stream ends at byte {len(data)} before the IEND chunk")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) < length or len(crc) < 4:
            raise PngError(f"truncated inside chunk {kind!r} at byte {pos}")
        if struct.unpack(">I", crc)[0] != zlib.crc32(kind + body):
            raise PngError(f"CRC mismatch in chunk {kind!r} at byte {pos}")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            return chunks


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter_row(kind: int, line: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    if kind == 0:
        return line
    if kind == 1:  # Sub: running sum per byte lane, modulo 256
        lanes = line.reshape(-1, bpp).astype(np.uint64)
        return (np.cumsum(lanes, axis=0) % 256).astype(np.uint8).ravel()
    if kind == 2:  # Up
        return line + prev
    if kind in (3, 4):  # Average and Paeth depend on the byte just decoded: sequential
        cur = bytearray(line.tobytes())
        up = prev.tobytes()
        for i in range(len(cur)):
            left = cur[i - bpp] if i >= bpp else 0
            upleft = up[i - bpp] if i >= bpp else 0
            pred = (left + up[i]) >> 1 if kind == 3 else _paeth(left, up[i], upleft)
            cur[i] = (cur[i] + pred) & 0xFF
        return np.frombuffer(bytes(cur), np.uint8)
    raise PngError(f"unknown row filter type {kind}")


def decode(data: bytes) -> np.ndarray:
    """Decode a non-interlaced, non-palette 8/16-bit PNG into ``(C, H, W)`` uint8/uint16."""
    head = read_header(data)
    if head.colour_type not in _CHANNELS or head.bit_depth not in (8, 16):
        raise PngError(f"colour type {head.colour_type} at {head.bit_depth} bits is not handled by this decoder")
    if head.interlaced:
        raise PngError("interlaced (Adam7) PNGs are not handled by this decoder")
    channels = _CHANNELS[head.colour_type]
    bpp = channels * head.bit_depth // 8
    stride = head.width * bpp
    idat = b"".join(body for kind, body in _chunks(data) if kind == b"IDAT")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(idat)
    except zlib.error as exc:
        raise PngError(f"corrupt image data: {exc}") from exc
    if not inflater.eof or len(raw) < head.height * (stride + 1):
        raise PngError(f"image data holds {len(raw)} bytes; {head.height * (stride + 1)} expected")
    rows = np.frombuffer(raw, np.uint8, count=head.height * (stride + 1)).reshape(head.height, stride + 1)
    out = np.empty((head.height, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(head.height):
        prev = out[y] = _unfilter_row(int(rows[y, 0]), rows[y, 1:], prev, bpp)
    dtype = np.dtype(">u2") if head.bit_depth == 16 else np.dtype(np.uint8)
    pixels = out.view(dtype).reshape(head.height, head.width, channels)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1).astype(dtype.newbyteorder("=")))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def encode(image: np.ndarray) -> bytes:
    """Encode ``(C, H, W)`` uint8 or uint16 (C in 1..4) as PNG with no row filter."""
    channels, height, width = image.shape
    depth = 16 if image.dtype == np.uint16 else 8
    samples = image.transpose(1, 2, 0).astype(">u2" if depth == 16 else np.uint8)
    rows = np.ascontiguousarray(samples).view(np.uint8).reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, _COLOUR_TYPE[channels], 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b"")
