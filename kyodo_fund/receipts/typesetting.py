"""Typesetting helpers for the receipt PDFs: Japanese line breaking (禁則), the QR code as an inline image,
CID fonts whose font dictionaries are formatted once per process, and the document's other unchanging objects
formatted once per process too (``reuse_formatted_objects``)."""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict

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


@functools.lru_cache(maxsize=16384)
def _utf16_hex(text: str) -> str:
    """The string as a Unicode CID font shows it, UTF-16 codes in hex. Remembered: labels, dates, amounts and
    wording recur in every document; only names, addresses and numbers are new."""
    return text.encode("utf_16_be").hex()


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
        ops.append(f"{_text_matrix(x, y)} <{_utf16_hex(text)}> Tj")

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


#: Formatted page tree and font objects by the skeleton of what their formatting reads (see ``_Reused``).
_FORMATTED_OBJECTS: dict[tuple, bytes] = {}
#: The Info dictionary's bytes before and after its title, by everything else it holds (see ``_ReusedInfo``);
#: None where the frame could not be cut out.
_INFO_FRAMES: dict[tuple, tuple[bytes, bytes] | None] = {}
#: Entries per cache before it starts afresh. The keys hold object numbers, page counts and the issuer's name:
#: a handful in practice; the bound only keeps an unusual stream of documents from growing them without end.
_CACHE_LIMIT = 512


class _Uncacheable(Exception):
    """Raised while building a skeleton for a value whose bytes may depend on more than the skeleton holds."""


def _reference(name: str, document: pdfdoc.PDFDocument) -> tuple:
    if name not in document.idToObjectNumberAndVersion:
        raise _Uncacheable  # reportlab reports the unresolved reference itself
    return (pdfdoc.PDFObjectReference, *document.idToObjectNumberAndVersion[name])


def _dictionary(entries: dict, multiline: object, document: pdfdoc.PDFDocument) -> tuple:
    """The skeleton of ``PDFDictionary(entries)`` with the given ``multiline``: the written order depends on
    whether it is an ``OrderedDict`` (else the keys are sorted), the line breaks on ``multiline``."""
    if type(entries) is not dict and type(entries) is not OrderedDict:
        raise _Uncacheable
    items = []
    for name, value in entries.items():
        if type(name) is not str:
            raise _Uncacheable
        items.append((name, _skeleton(value, document)))
    return (pdfdoc.PDFDictionary, multiline, type(entries) is OrderedDict, tuple(items))


def _skeleton(value: object, document: pdfdoc.PDFDocument) -> object:
    """A hashable stand-in for the bytes ``pdfdoc.format`` writes for ``value`` inside a dictionary or an array:
    equal skeletons, equal bytes (with the same ``rl_config.pdfMultiLine``).

    It follows ``pdfdoc.format`` for the few kinds of value the page tree and the font objects hold — names,
    numbers, references, and dictionaries and arrays of them — with the object numbers the references resolve to,
    and raises ``_Uncacheable`` for anything else: strings (encryption changes them per object), streams,
    objects that formatting would register (a side effect that must happen) and unknown subclasses. Each kind
    is tagged, and numbers by their exact type, so values Python calls equal (``1``, ``1.0``, ``True``) never
    share a skeleton; booleans, which reportlab writes as ``True``, are left to it."""
    if isinstance(value, pdfdoc.PDFObject):
        if hasattr(value, "__RefOnly__"):
            # Written as a reference; an object not yet registered would be registered by formatting it.
            name = getattr(value, "__InternalName__", None)
            if name is None or name not in document.idToObject:
                raise _Uncacheable
            return _reference(name, document)
        kind = type(value)
        if kind is pdfdoc.PDFObjectReference:
            return _reference(value.name, document)
        if kind is pdfdoc.PDFDictionary:
            return _dictionary(value.dict, value.multiline, document)
        if kind is pdfdoc.PDFArray or kind is pdfdoc.PDFArrayCompact:
            return (kind, value.multiline, tuple(_skeleton(item, document) for item in value.sequence))
        if kind is pdfdoc.PDFResourceDictionary:
            # Written as a dictionary of its non-empty resource dictionaries and its ProcSet array.
            entries = []
            for name in value.dict_attributes:
                entry = getattr(value, name)
                if isinstance(entry, dict):
                    entries.append(_dictionary(entry, pdfdoc.PDFDictionary.multiline, document) if entry else None)
                else:
                    entries.append((object, _skeleton(entry, document)))
            procs = value.ProcSet
            if isinstance(procs, (list, tuple)):
                procs = (list, tuple(_skeleton(proc, document) for proc in procs))
            else:
                procs = (object, _skeleton(procs, document))
            return (kind, tuple(entries), procs)
        raise _Uncacheable
    kind = type(value)
    if kind is str or kind is bytes:
        return value
    if kind is int or kind is float:
        return (kind, repr(value))
    raise _Uncacheable


def _catalog_skeleton(obj: pdfdoc.PDFCatalog, document: pdfdoc.PDFDocument) -> tuple:
    """The skeleton of the dictionary ``PDFCatalog.format`` writes for a catalog, the page tree or a page: its
    defaults and attributes that are set, with those it lists as references registered — in the same order,
    so the objects get the numbers reportlab gives them — and replaced by references."""
    obj.check_format(document)  # idempotent: the page's stream, resources and parent; the tree's kids
    entries = {}
    for name, default in obj.__Defaults__.items():
        value = getattr(obj, name, default)
        if value is not None:
            entries[name] = value
    for name in obj.__NoDefault__:
        value = getattr(obj, name, None)
        if value is not None:
            entries[name] = value
    for name in obj.__Refs__:
        if name in entries:
            entries[name] = document.Reference(entries[name])
    return _dictionary(entries, pdfdoc.PDFDictionary.multiline, document)


class _Reused:
    """Formats an object once per process for each skeleton of what its formatting reads, then reuses the bytes.

    Mixed into subclasses of reportlab's page tree and font objects; ``reuse_formatted_objects`` switches a
    document's objects over to them just before it is saved. reportlab numbers our documents' objects in the
    same order every time, so the page tree, the Helvetica font of the canvas preamble and the font dictionary
    come out the same in every document with the same page count and resources (~0.06 ms a document). Any value
    outside the skeleton's vocabulary leaves the object to reportlab. Like ``_FontDictionary``, this assumes
    reportlab's classes are not changed while the process runs; two threads racing on a new key format the
    same bytes.
    """

    def _skeleton(self, document: pdfdoc.PDFDocument) -> object:
        raise NotImplementedError

    def format(self, document: pdfdoc.PDFDocument) -> bytes:
        try:
            key = (type(self), rl_config.pdfMultiLine, self._skeleton(document))
        except _Uncacheable:
            return super().format(document)
        formatted = _FORMATTED_OBJECTS.get(key)
        if formatted is None:
            formatted = super().format(document)
            if len(_FORMATTED_OBJECTS) >= _CACHE_LIMIT:
                _FORMATTED_OBJECTS.clear()
            _FORMATTED_OBJECTS[key] = formatted
        return formatted


class _ReusedCatalog(_Reused, pdfdoc.PDFCatalog):
    def _skeleton(self, document: pdfdoc.PDFDocument) -> object:
        return _catalog_skeleton(self, document)


class _ReusedPages(_Reused, pdfdoc.PDFPages):
    def _skeleton(self, document: pdfdoc.PDFDocument) -> object:
        return _catalog_skeleton(self, document)


class _ReusedPage(_Reused, pdfdoc.PDFPage):
    def _skeleton(self, document: pdfdoc.PDFDocument) -> object:
        return _catalog_skeleton(self, document)


class _ReusedDictionary(_Reused, pdfdoc.PDFDictionary):
    def _skeleton(self, document: pdfdoc.PDFDocument) -> object:
        return _dictionary(self.dict, self.multiline, document)


_MISSING = object()


class _ReusedType1Font(_Reused, pdfdoc.PDFType1Font):
    def _skeleton(self, document: pdfdoc.PDFDocument) -> object:
        # PDFType1Font.format writes the attributes it finds: the first group as names, the second as they are.
        entries = []
        for name in self.name_attributes:
            value = getattr(self, name, _MISSING)
            if value is not _MISSING:
                if type(value) is not str:
                    raise _Uncacheable
                entries.append((name, "/", value))
        for name in self.local_attributes:
            value = getattr(self, name, _MISSING)
            if value is not _MISSING:
                entries.append((name, _skeleton(value, document)))
        return tuple(entries)


#: A stand-in title to format the Info dictionary around; its formatted bytes are cut out again.
_TITLE_STAND_IN = "kyodo-fund-title-stand-in"


class _ReusedInfo(pdfdoc.PDFInfo):
    """The document information dictionary, formatted around its title.

    Its title holds the document's number, so it is never the same twice; everything else — the issuer as
    author, the fixed (invariant) dates, producer and the rest — recurs. Its bytes are the formatted
    ``PDFString`` of each value in a dictionary whose layout does not depend on the values, so the bytes before
    and after the title are formatted once with a stand-in title and reused, and only the title is formatted
    per document (~0.04 ms). Strings are encrypted per object, so an encrypted document is left to reportlab.
    """

    def format(self, document: pdfdoc.PDFDocument) -> bytes:
        if not isinstance(document.encrypt, pdfdoc.NoEncryption):
            return super().format(document)
        stamp = document._timeStamp
        values = (self.author, self.subject, self.keywords, self.producer, self.creator, self.trapped)
        key = (rl_config.pdfMultiLine, values, self._dateFormatter, tuple(stamp.YMDhms), stamp.dhh, stamp.dmm)
        try:
            frame = _INFO_FRAMES.get(key, _MISSING)
        except TypeError:  # an unhashable value: reportlab will say what it makes of it
            return super().format(document)
        if frame is _MISSING:
            stand_in = copy.copy(self)
            stand_in.title = _TITLE_STAND_IN
            parts = pdfdoc.PDFInfo.format(stand_in, document).split(pdfdoc.PDFString(_TITLE_STAND_IN).format(document))
            # Only where the stand-in occurs once: another value could, in theory, contain the same bytes.
            frame = (parts[0], parts[1]) if len(parts) == 2 else None
            if len(_INFO_FRAMES) >= _CACHE_LIMIT:
                _INFO_FRAMES.clear()
            _INFO_FRAMES[key] = frame
        if frame is None:
            return super().format(document)
        before, after = frame
        return before + pdfdoc.PDFString(self.title).format(document) + after


#: reportlab's classes and the subclasses that reuse their formatted bytes, by exact class: a subclass of
#: reportlab's may format differently and is left alone.
_REUSED_CLASSES: dict[type, type] = {
    pdfdoc.PDFCatalog: _ReusedCatalog,
    pdfdoc.PDFPages: _ReusedPages,
    pdfdoc.PDFPage: _ReusedPage,
    pdfdoc.PDFDictionary: _ReusedDictionary,
    pdfdoc.PDFType1Font: _ReusedType1Font,
    pdfdoc.PDFInfo: _ReusedInfo,
}


def reuse_formatted_objects(document: pdfdoc.PDFDocument) -> None:
    """Switch a finished document's catalog, page tree, Info, font dictionary and Type 1 fonts over to
    subclasses that reuse formatted bytes across documents. Call it after the last ``showPage`` and just before
    saving; the canvas and the objects are otherwise untouched, so the bytes are reportlab's own.

    With reportlab's PDF comments on, each object is preceded by its class name, which the subclasses would
    change: such documents are left alone."""
    if rl_config.pdfComments and not rl_config.invariant:
        return
    for obj in (*document.idToObject.values(), document.Catalog, document.Pages, document.info):
        reused = _REUSED_CLASSES.get(type(obj))
        if reused is not None:
            obj.__class__ = reused
