"""The module matrix of a receipt's verification QR code, from zxing-cpp's encoder.

An annual run draws one code per statement: zxing-cpp encodes in C++ (~0.2 ms a code) where a pure-Python
encoder spent ~0.9 ms, a sixth of a statement's drawing time (bench/bench_render.py). Error correction level M
as before; zxing-cpp chooses the mask, which any reader accepts.
"""

from __future__ import annotations

import zxingcpp

Matrix = tuple[bytes, ...]

#: zxing-cpp's one-pixel-per-module image is 0 (black) for a dark module and 255 for a light one.
_DARK = bytes(1 if value < 128 else 0 for value in range(256))


def qr_matrix(data: str) -> Matrix:
    """Rows of 0/1 bytes (1 = dark), without the quiet zone (the page draws its own)."""
    code = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = memoryview(code.to_image(scale=1, add_quiet_zones=False))
    rows, columns = image.shape
    modules = image.tobytes().translate(_DARK)
    return tuple(modules[start : start + columns] for start in range(0, rows * columns, columns))
