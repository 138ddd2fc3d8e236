"""Typesetting helpers for the receipt PDFs: Japanese line breaking (禁則), the QR code as an inline image,
and CID fonts whose font dictionaries are formatted once per process."""

from __future__ import annotations

import functools

from reportlab import rl_config
from reportlab.lib.colors import Color, black
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase._cidfontdata import CIDFontInfo
from reportlab.pdfbase.cidfonts import UnicodeCIDFont, structToPDF
from reportlab.pdfgen.canvas import Canvas

from kyodo_fund.receipts.qr import Matrix

#: Characters that must not start a line (禁則): they hang at the end of the previous one.
_NO_LINE_START = set("、。，．）」』】〕,.)!?！？ー々ぁぃぅぇぉっゃゅょァィゥェォッャュョ")


@functools.lru_cache(maxsize=16384)
def text_width(text: str, font: str, size: float) -> float:
    """``pdfmetrics.stringWidth``, remembered: labels, dates, amounts, wording and the characters ``wrap`` measures
    one by one recur in every document (font metrics never change)."""
    return pdfmetrics.stringWidth(text, font, size)


@functools.lru_cache(maxsize=8192)
def wrap(text: str, font: str, size: float, width: float) -> tuple[str, ...]:
    """Break Japanese (and URLs) at any character, keeping 禁則 characters off the start of a line.

    Remembered like ``text_width``: table cells (dates, amounts, project names) repeat across statements."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        if text_width(paragraph, font, size) <= width:
            lines.append(paragraph)  # the common case: it fits
            continue
        current, current_width = "", 0.0
        for char in paragraph:
            char_width = text_width(char, font, size)
            if current and current_width + char_width > width and char not in _NO_LINE_START:
                lines.append(current)
                current, current_width = "", 0.0
            current += char
            current_width += char_width
        lines.append(current)
    return tuple(lines)


@functools.lru_cache(maxsize=4096)
def _text_matrix(x: float, y: float) -> str:
    """``1 0 0 1 x y Tm``, remembered: reportlab's ``fp_str`` takes ~0.4 µs a call, and documents of one kind put
    their lines at the same places (~0.03 ms a statement)."""
    return f"1 0 0 1 {fp_str(x, y)} Tm"


class TextBatch:
    """Lines of text collected for one page and written as one text object of PDF operators.

    ``canvas.drawString`` builds a text object per call (~10 µs; a statement draws ~80 lines). This writes what
    reportlab's text object writes for a Unicode CID font — ``Tf`` with the document's internal font name,
    ``1 0 0 1 x y Tm``, the string as UTF-16 codes and ``Tj`` — with ``Tf`` and the fill colour only when they
    change (~1 µs a line). The string is written in hex, ``<…>``, where ``font.formatForPdf`` escapes the same
    bytes into a literal ``(…)``: the same codes, a tenth fewer bytes for the content stream's compression. The
    batch is wrapped in ``q … Q`` so the font and colour it sets do not leak into the canvas's own drawing, which
    does not know about them. Flush before drawing anything that must lie on top of the text.
    """

    def __init__(self, pdf: Canvas) -> None:
        self.pdf = pdf
        self.ops: list[str] = []
        self.font: tuple[str, float] | None = None
        self.color: Color | None = None

    def draw(
        self, x: float, y: float, text: str, font: str, size: float, *, align: str = "left", color: Color = black
    ) -> None:
        if align == "right":
            x -= text_width(text, font, size)
        elif align == "centre":
            x -= text_width(text, font, size) / 2
        ops = self.ops
        if (font, size) != self.font:
            # The same name lookup reportlab's text object makes; it adds the font to the document on first use.
            ops.append(f"{self.pdf._doc.getInternalFontName(font)} {fp_str(size)} Tf")
            self.font = (font, size)
        if color is not self.color:  # the module's colour constants: identity is enough, a repeat is harmless
            ops.append(f"{fp_str(color.red, color.green, color.blue)} rg")
            self.color = color
        ops.append(f"{_text_matrix(x, y)} <{text.encode('utf_16_be').hex()}> Tj")

    def flush(self) -> None:
        if self.ops:
            self.pdf.addLiteral("q BT " + "\n".join(self.ops) + " ET Q")
            self.ops = []
        self.font = self.color = None


def qr_inline_image(matrix: Matrix, x: float, y: float, size: float, border: int = 2) -> str:
    """PDF operators drawing the QR code as a one-bit-per-module inline image in the square (x, y, size), with
    a white border of ``border`` modules. PDF images are not smoothed when scaled, so it prints as crisp as a
    large PNG. Written straight into the page's content stream, it skips building a PIL image and a separate
    image object (hashing, compressing and ASCII85-encoding it): ~0.005 ms instead of ~0.4 ms."""
    side = len(matrix) + 2 * border
    padding = 8 * ((side + 7) // 8) - side  # bits that fill each row up to whole bytes
    # One sample per module, 1 = white in DeviceGray, as one string of binary digits, read as a single integer
    # and written in hex (ASCIIHex, which ends with ">"): one conversion for the whole image, not one a row.
    left, right = b"1" * border, b"1" * border + b"0" * padding
    quiet = b"1" * (side + padding) * border
    bits = quiet + left + (right + left).join(matrix).translate(_LIGHT_AS_ONE) + right + quiet
    return (
        f"q {fp_str(size)} 0 0 {fp_str(size)} {fp_str(x)} {fp_str(y)} cm\n"
        f"BI /W {side} /H {side} /BPC 1 /CS /G /F /AHx ID\n{int(bits, 2):0{len(bits) // 4}x}>\nEI Q"
    )


#: A matrix row's modules (1 = dark) as binary digits of the image (1 = white).
_LIGHT_AS_ONE = bytes.maketrans(b"\x00\x01", b"10")


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
