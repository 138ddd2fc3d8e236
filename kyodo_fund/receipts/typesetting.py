"""Typesetting helpers for the receipt PDFs: Japanese line breaking (禁則), the QR code, and CID fonts whose
font dictionaries are formatted once per process."""

from __future__ import annotations

import functools

import segno
from PIL import Image
from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase._cidfontdata import CIDFontInfo
from reportlab.pdfbase.cidfonts import UnicodeCIDFont, structToPDF

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


#: Formatted font dictionaries by (face, internal name, encoding, multi-line setting).
_FORMATTED_FONTS: dict[tuple[str, str, str, bool], bytes] = {}


class _FontDictionary(pdfdoc.PDFObject):
    """A built-in CID font's dictionary, formatted on first use and then reused by every document.

    reportlab rebuilds and formats the whole dictionary for every document, including the widths array of
    some thousand numbers: a third of a statement's rendering time. Its text depends only on the face, the
    encoding, the internal name (/F1, /F2 … in order of first use) and reportlab's multi-line setting; it holds
    no strings, references or streams, so neither encryption nor object numbers can make it differ between
    documents. Two threads racing on a new key format the same bytes; the last assignment wins harmlessly.
    """

    def __init__(self, face: str, internal_name: str, encoding: str) -> None:
        self.key = (face, internal_name, encoding, bool(rl_config.pdfMultiLine))

    def format(self, document: pdfdoc.PDFDocument) -> bytes:
        formatted = _FORMATTED_FONTS.get(self.key)
        if formatted is None:
            face, internal_name, encoding, _ = self.key
            # A copy: reportlab's own addObjects writes Name and Encoding into the shared module-level dict.
            structure = {**CIDFontInfo[face], "Name": "/" + internal_name, "Encoding": "/" + encoding}
            formatted = _FORMATTED_FONTS[self.key] = structToPDF(structure).format(document)
        return formatted


class ReusedCIDFont(UnicodeCIDFont):
    """``UnicodeCIDFont`` writing the same font dictionary as reportlab (``CIDFont.addObjects``), but from
    ``_FontDictionary``'s per-process cache. It is registered under its own name, so documents use it while
    anything that asks for the bare face name still gets stock reportlab."""

    SUFFIX = "+reused"

    @classmethod
    def register(cls, face: str) -> str:
        """Register the face once and return the font name to pass to ``setFont`` and ``stringWidth``."""
        name = face + cls.SUFFIX
        if name not in pdfmetrics.getRegisteredFontNames():
            font = cls(face)
            font.name = font.fontName = name
            pdfmetrics.registerFont(font)
        return name

    def addObjects(self, doc: pdfdoc.PDFDocument) -> None:
        internal_name = "F" + repr(len(doc.fontMapping) + 1)
        reference = doc.Reference(_FontDictionary(self.face.name, internal_name, self.encodingName), internal_name)
        doc.idToObject["BasicFonts"].dict[internal_name] = reference
        doc.fontMapping[self.name] = "/" + internal_name
