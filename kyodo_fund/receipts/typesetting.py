"""Typesetting helpers for the receipt PDFs: Japanese line breaking (禁則) and the QR code as an image."""

from __future__ import annotations

import functools

import segno
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics

#: Characters that must not start a line (禁則): they hang at the end of the previous one.
_NO_LINE_START = set("、。，．）」』】〕,.)!?！？ー々ぁぃぅぇぉっゃゅょァィゥェォッャュョ")


@functools.lru_cache(maxsize=8192)
def _char_width(char: str, font: str, size: float) -> float:
    # Font metrics never change; annual runs measure the same few hundred characters millions of times.
    return pdfmetrics.stringWidth(char, font, size)


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Break Japanese (and URLs) at any character, keeping 禁則 characters off the start of a line."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        if pdfmetrics.stringWidth(paragraph, font, size) <= width:
            lines.append(paragraph)  # the common case: it fits
            continue
        current, current_width = "", 0.0
        for char in paragraph:
            char_width = _char_width(char, font, size)
            if current and current_width + char_width > width and char not in _NO_LINE_START:
                lines.append(current)
                current, current_width = "", 0.0
            current += char
            current_width += char_width
        lines.append(current)
    return lines


def qr_image(data: str) -> ImageReader:
    """The QR code as a one-pixel-per-module greyscale image; PDF images are not smoothed when scaled, so it
    prints as crisp as a large PNG while skipping PNG encoding and decoding."""
    # A fixed mask is as valid as the best one and skips segno's costly evaluation of all eight.
    qr = segno.make(data, error="m", mask=2, micro=False)
    border = 2
    side = len(qr.matrix) + 2 * border
    quiet = b"\xff" * side
    rows = [quiet] * border
    for row in qr.matrix:
        rows.append(b"\xff" * border + bytes(0 if dark else 255 for dark in row) + b"\xff" * border)
    rows += [quiet] * border
    return ImageReader(Image.frombytes("L", (side, side), b"".join(rows)))
