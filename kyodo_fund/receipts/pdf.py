"""Receipt and annual-statement PDFs, drawn with reportlab's canvas from a ``ReceiptSnapshot`` alone.

The printed wording is fixed Japanese, not passed through Babel: a receipt is a legal document whose
re-render must match the original whatever the reader's language. ``invariant=True`` drops reportlab's
timestamp and random document id, so the same snapshot always yields the same bytes.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from datetime import date

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.rl_accel import fp_str
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from kyodo_fund.money import format_yen
from kyodo_fund.receipts.qr import qr_matrix
from kyodo_fund.receipts.snapshot import DocumentKind, ReceiptLine, ReceiptSnapshot, validate_snapshot
from kyodo_fund.receipts.typesetting import (
    ReusedCIDFont,
    TextBatch,
    qr_inline_image,
    reuse_formatted_objects,
    text_width,
    wrap,
)
from kyodo_fund.tax.kinds import IssuerKind
from kyodo_fund.wareki import format_wareki

#: The bare reportlab font, used by ``render_plain_page`` only: the benchmark baseline stays stock reportlab.
PLAIN_MINCHO = "HeiseiMin-W3"
#: The same faces for documents, under their own names in reportlab's font table: they write the identical
#: font dictionaries but format them once per process (see ``ReusedCIDFont``).
MINCHO = ReusedCIDFont.register("HeiseiMin-W3")
GOTHIC = ReusedCIDFont.register("HeiseiKakuGo-W5")
# Registering a built-in CID font only records its metrics in reportlab's font table; it is idempotent and
# the same for every document, so doing it once at import is not per-render state.
pdfmetrics.registerFont(UnicodeCIDFont(PLAIN_MINCHO))

PAGE_W, PAGE_H = A4
LEFT, RIGHT, TOP, BOTTOM = 50.0, PAGE_W - 50.0, PAGE_H - 45.0, 60.0
WIDTH = RIGHT - LEFT
RED = Color(0.75, 0.1, 0.1)
GREY = Color(0.45, 0.45, 0.45)

QR_SIZE = 62.0
#: The verification block: its top gap and the QR code (the text beside it is shorter).
VERIFICATION_HEIGHT = 16 + QR_SIZE

#: A table column: heading, width in points, "left" or "right".
Column = tuple[str, float, str]

TITLE_TAX = "寄附金受領証明書"
TITLE_PLAIN = "領収書"
_MAIN_PURPOSE = "上記の金額を、当法人の主たる目的である業務に関連する寄附金として受領したことを証明します。"
STATEMENT = {
    IssuerKind.NINTEI_NPO: (
        "上記の金額を、当法人が行う特定非営利活動に係る事業に関連する寄附金として受領したことを証明します。"
    ),
    IssuerKind.KOEKI_CERT: _MAIN_PURPOSE,
    IssuerKind.KOEKI: _MAIN_PURPOSE,
    IssuerKind.JOREI_NPO: "上記の金額を寄附金として受領したことを証明します。",
    IssuerKind.PLAIN: "上記の金額を正に領収いたしました。",
}
KOEKI_ONLY = "所得控除のみ対象（この寄附金は税額控除の対象ではありません）"
DESIGNATION_INTRO = "当法人は、次の地方公共団体の条例により、個人住民税の寄附金税額控除の対象として指定されています。"
CERT_IN_PLACE_OF_COPY = "（税額控除に係る証明書の写しの添付に代えて、その番号と日付を記載しています）"
ESTIMATE_HEADING = "参考：控除額の目安（情報提供であり、実際の控除額は確定申告で確定します）"
SUPPLEMENT = "本書は、同年分の証明書の発行後に記録された寄附についての追加分です。"
KEEP_FOR_RETURN = "この証明書は確定申告で寄附金控除を受ける際に必要です。大切に保管してください。"

__all__ = ["render_plain_page", "render_receipt", "validate_snapshot"]


def render_receipt(snapshot: ReceiptSnapshot) -> bytes:
    """Render one receipt or annual statement. Safe to call concurrently: all state is local.

    Each page's footer prints "n / total". Drawing it as plain text needs the total before the last page is laid
    out, so the document is drawn for one page first and, in the rare case that it runs on (a statement of more
    than about a dozen gifts), drawn again with the count it reached. The footer does not move anything else, so
    the second drawing breaks pages at the same places. This is cheaper than a form XObject filled in at the end.
    """
    document = _Document(snapshot, pages=1)
    document.draw()
    if document.page != 1:
        document = _Document(snapshot, pages=document.page)
        document.draw()
    return document.save()


def render_plain_page(text: str) -> bytes:
    """A bare one-page PDF with the same library and font: the benchmark baseline for ``render_receipt``."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True, pageCompression=1)
    pdf.setFont(PLAIN_MINCHO, 11)
    y = TOP
    for line in wrap(text, PLAIN_MINCHO, 11, WIDTH):
        pdf.drawString(LEFT, y, line)
        y -= 16
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _date(value: date | None) -> str:
    return format_wareki(value) if value else ""


@functools.lru_cache(maxsize=4096)
def _gift_cells(line: ReceiptLine, widths: tuple[float, ...], size: float) -> tuple[tuple[str, ...], ...]:
    """A gift's table cells after its number, wrapped to the column widths. Remembered: a monthly donor's gifts
    share the amount and the project with many other donors' on the same dates."""
    cells = (_date(line.received_on), format_yen(line.amount_yen, receipt=True), line.purpose, line.activity)
    return tuple(wrap(cell, MINCHO, size, width) for cell, width in zip(cells[: len(widths)], widths, strict=True))


@functools.lru_cache(maxsize=1024)
def _row_rule(y: float) -> str:
    """The rule under a table row, as the canvas's ``setLineWidth(0.4)`` and ``line`` write it. Remembered: rows
    sit at the same heights in statement after statement, and reportlab's ``fp_str`` takes ~0.4 µs a call."""
    return f".4 w\nn {fp_str(LEFT, y)} m {fp_str(RIGHT, y)} l S"


class _Document:
    def __init__(self, snapshot: ReceiptSnapshot, *, pages: int) -> None:
        self.s = snapshot
        self.pages = pages  # what the footers print as the page count
        self.buffer = io.BytesIO()
        self.pdf = canvas.Canvas(self.buffer, pagesize=A4, invariant=True, pageCompression=1)
        self.pdf.setTitle(f"{self.title} {snapshot.number}")
        self.pdf.setAuthor(snapshot.issuer.name)
        self.text = TextBatch(self.pdf)
        self.page = 0
        self.y = TOP

    @property
    def title(self) -> str:
        return TITLE_TAX if self.s.is_tax_document else TITLE_PLAIN

    @property
    def tabular(self) -> bool:
        return self.s.document_kind == DocumentKind.ANNUAL_STATEMENT or len(self.s.lines) != 1

    # --- pages ------------------------------------------------------------------------------

    def draw(self) -> None:
        self._start_page()
        self._heading()
        self._donor()
        if self.tabular:
            self._table()
        else:
            self._single_gift()
        self._statements()
        self._issuer()
        self._verification()
        self._finish_page()

    def save(self) -> bytes:
        # Every page has been shown: the page tree, fonts and Info can now take their bytes from the cache.
        reuse_formatted_objects(self.pdf._doc)
        self.pdf.save()
        return self.buffer.getvalue()

    def _start_page(self) -> None:
        self.page += 1
        self.y = TOP
        text = self.text
        text.draw(RIGHT, TOP, f"No. {self.s.number}", MINCHO, 9, align="right")
        text.draw(RIGHT, TOP - 13, f"発行日 {_date(self.s.issued_on)}", MINCHO, 9, align="right")
        stamps = [label for flag, label in ((self.s.flags.reissue, "再発行"), (self.s.flags.voided, "取消")) if flag]
        for n, label in enumerate(stamps):
            self._stamp(LEFT + n * 84, label)
        if self.page > 1:
            text.draw(LEFT + 84 * len(stamps), TOP - 8, f"{self.title}（続き）", GOTHIC, 11)
            self.y = TOP - 40

    def _stamp(self, x: float, label: str) -> None:
        pdf = self.pdf
        pdf.setStrokeColor(RED)
        pdf.setLineWidth(1.5)
        pdf.rect(x, TOP - 16, 74, 26)
        pdf.setStrokeColor(black)
        self.text.draw(x + 37, TOP - 8, label, GOTHIC, 15, align="centre", color=RED)

    def _finish_page(self) -> None:
        pdf = self.pdf
        self.text.draw(PAGE_W / 2 - 30, 30, f"{self.s.number}　{self.page} / {self.pages}", MINCHO, 8, color=GREY)
        # The page's text goes below the 取消 overlay; lines and boxes were drawn as they came, beneath it.
        self.text.flush()
        if self.s.flags.voided:
            # Drawn last and translucent so the voided content stays legible underneath. Text extractors
            # such as ``pdftotext -layout`` skip rotated text; the upright stamp at the top carries the word.
            pdf.saveState()
            pdf.setFillColor(RED)
            pdf.setFillAlpha(0.35)
            pdf.translate(PAGE_W / 2, PAGE_H / 2)
            pdf.rotate(30)
            pdf.setFont(GOTHIC, 150)
            pdf.drawCentredString(0, -50, "取消")
            pdf.restoreState()
        pdf.showPage()

    def _ensure(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self._finish_page()
            self._start_page()

    def _paragraph(
        self,
        text: str,
        *,
        font: str = MINCHO,
        size: float = 10,
        x: float = LEFT,
        width: float = WIDTH,
        color: Color = black,
        leading: float | None = None,
    ) -> None:
        leading = leading or size * 1.6
        for line in wrap(text, font, size, width):
            self._ensure(leading)
            self.y -= leading
            self.text.draw(x, self.y + leading * 0.3, line, font, size, color=color)

    def _rows(self, rows: Iterable[tuple[str, str]], *, label_width: float = 110, size: float = 10) -> None:
        leading = size * 1.6
        for label, value in rows:
            lines = wrap(value, MINCHO, size, WIDTH - label_width)
            self._ensure(leading * len(lines))
            self.text.draw(LEFT, self.y - leading * 0.7, label, GOTHIC, size)
            for line in lines:
                self.y -= leading
                self.text.draw(LEFT + label_width, self.y + leading * 0.3, line, MINCHO, size)

    # --- blocks -----------------------------------------------------------------------------

    def _heading(self) -> None:
        pdf = self.pdf
        self.text.draw(PAGE_W / 2, TOP - 45, self.title, GOTHIC, 22, align="centre")
        half = text_width(self.title, GOTHIC, 22) / 2 + 12
        pdf.setLineWidth(0.8)
        for offset in (52, 55):
            pdf.line(PAGE_W / 2 - half, TOP - offset, PAGE_W / 2 + half, TOP - offset)
        self.y = TOP - 62
        if self.s.document_kind == DocumentKind.ANNUAL_STATEMENT:
            period = "年間まとめ"
            if self.s.period_from and self.s.period_to:
                period += f"：{_date(self.s.period_from)}から{_date(self.s.period_to)}まで"
            self._centred(f"（{period}）", size=10)
        if self.s.flags.voided:
            self._centred("この書類は取り消されました。", size=11, color=RED, font=GOTHIC)
        if self.s.flags.reissue:
            self._centred("本書は再発行したものです（原本と同一の内容）。", size=9)
        if self.s.flags.replaces_number:
            self._centred(f"本書は {self.s.flags.replaces_number}（取消済み）に代わるものです。", size=9)
        if self.s.flags.supplement:
            self._centred(SUPPLEMENT, size=9)
        self.y -= 10

    def _centred(self, text: str, *, size: float, color: Color = black, font: str = MINCHO) -> None:
        self.y -= size * 1.7
        self.text.draw(PAGE_W / 2, self.y, text, font, size, align="centre", color=color)

    def _donor(self) -> None:
        donor = self.s.donor
        if donor.postal_code:
            self._paragraph(f"〒{donor.postal_code}", size=10)
        if donor.address:
            self._paragraph(donor.address, size=10.5, width=320)
        self.y -= 26
        self.text.draw(LEFT, self.y, f"{donor.name}　様", MINCHO, 16)
        self.pdf.setLineWidth(0.8)
        self.pdf.line(LEFT, self.y - 5, LEFT + 320, self.y - 5)
        self.y -= 20

    def _single_gift(self) -> None:
        line = self.s.lines[0]
        pdf = self.pdf
        self.y -= 50
        pdf.setLineWidth(1.2)
        pdf.rect(LEFT, self.y, WIDTH, 42)
        self.text.draw(LEFT + 14, self.y + 16, "金額", GOTHIC, 12)
        amount = format_yen(self.s.total_yen, receipt=True)
        self.text.draw(PAGE_W / 2 + 20, self.y + 12, amount, GOTHIC, 24, align="centre")
        self.y -= 14
        rows = [("但し書き", f"{line.purpose}への寄附金として"), ("受領年月日", _date(line.received_on))]
        if self.s.issuer.kind == IssuerKind.NINTEI_NPO:
            rows.append(("特定非営利活動", line.activity))
        self._rows(rows)

    def _columns(self) -> list[Column]:
        columns = [("No.", 30, "right"), ("受領年月日", 100, "left"), ("金額", 85, "right")]
        rest = WIDTH - sum(width for _, width, _ in columns)
        if self.s.issuer.kind == IssuerKind.NINTEI_NPO:
            return [*columns, ("但し書き", rest - 140, "left"), ("特定非営利活動", 140, "left")]
        return [*columns, ("但し書き", rest, "left")]

    def _table(self) -> None:
        columns = self._columns()
        size, leading, pad = 9.5, 13.0, 4.0
        self.y -= 10
        self._table_header(columns)
        widths = tuple(width - 2 * pad for _, width, _ in columns[1:])
        for index, line in enumerate(self.s.lines, start=1):
            wrapped = ((str(index),), *_gift_cells(line, widths, size))
            height = max(len(w) for w in wrapped) * leading + 2 * pad
            if self.y - height < BOTTOM + 20:
                self._finish_page()
                self._start_page()
                self._table_header(columns)
            self._table_row(columns, wrapped, height, MINCHO, size, leading, pad)
        total = [["合計"], [f"{len(self.s.lines)}件"], [format_yen(self.s.total_yen, receipt=True)], [""]]
        total += [[""]] * (len(columns) - 4)
        self._ensure(leading + 2 * pad + 6)
        self.pdf.setLineWidth(1.2)
        self.pdf.line(LEFT, self.y, RIGHT, self.y)
        self._table_row(columns, total, leading + 2 * pad, GOTHIC, 10.5, leading, pad)
        self.y -= 12

    def _table_header(self, columns: list[Column]) -> None:
        height = 22.0
        self.pdf.setFillColor(Color(0.92, 0.92, 0.92))
        self.pdf.rect(LEFT, self.y - height, WIDTH, height, stroke=0, fill=1)
        self.pdf.setFillColor(black)
        self._table_row(columns, [[name] for name, _, _ in columns], height, GOTHIC, 9.5, 13.0, 5.0)

    def _table_row(
        self,
        columns: list[Column],
        cells: Sequence[Sequence[str]],
        height: float,
        font: str,
        size: float,
        leading: float,
        pad: float,
    ) -> None:
        x = LEFT
        draw = self.text.draw
        for (_, width, align), lines in zip(columns, cells, strict=True):
            for n, text in enumerate(lines):
                baseline = self.y - pad - size - n * leading + 1
                if align == "right":
                    draw(x + width - pad, baseline, text, font, size, align="right")
                else:
                    draw(x + pad, baseline, text, font, size)
            x += width
        self.y -= height
        self.pdf.addLiteral(_row_rule(self.y))

    def _statements(self) -> None:
        issuer = self.s.issuer
        self.y -= 6
        self._paragraph(STATEMENT[issuer.kind], size=10.5)
        if issuer.kind in (IssuerKind.KOEKI_CERT, IssuerKind.KOEKI) and issuer.main_purpose:
            self._paragraph(f"主たる目的である業務：{issuer.main_purpose}", size=10)
        if issuer.kind == IssuerKind.KOEKI:
            self._paragraph(KOEKI_ONLY, font=GOTHIC, size=10.5)
        self.y -= 4
        rows: list[tuple[str, str]] = []
        if issuer.kind == IssuerKind.NINTEI_NPO:
            authority = f"（{issuer.certifying_authority}）" if issuer.certifying_authority else ""
            rows.append(("認定番号", f"{issuer.certification_number}{authority}"))
            kind = "特例認定" if issuer.provisional else "認定"
            rows.append(("認定年月日", f"{_date(issuer.certified_on)}（{kind}）"))
            if issuer.certification_expires_on:
                rows.append(("認定の有効期間", f"{_date(issuer.certification_expires_on)}まで"))
        if issuer.kind == IssuerKind.KOEKI_CERT:
            authority = f"（{issuer.tax_credit_cert_authority}）" if issuer.tax_credit_cert_authority else ""
            rows.append(("税額控除に係る証明書", f"{issuer.tax_credit_cert_number}{authority}"))
            rows.append(("証明年月日", _date(issuer.tax_credit_cert_on)))
        self._rows(rows)
        if issuer.kind == IssuerKind.KOEKI_CERT:
            self._paragraph(CERT_IN_PLACE_OF_COPY, size=8.5)
        if issuer.designations and self.s.is_tax_document:
            self._paragraph(DESIGNATION_INTRO, size=10)
            self._rows(
                [("条例指定", f"{d.body}（指定の効力発生日 {_date(d.effective_on)}）") for d in issuer.designations]
            )
        if self.s.tax_estimate_text and self.s.is_tax_document:
            self.y -= 6
            self._paragraph(
                "参考：控除額の目安（情報提供であり、実際の控除額は確定申告で確定します）", font=GOTHIC, size=9.5
            )
            self._paragraph(self.s.tax_estimate_text, size=9.5)
        if self.s.is_tax_document:
            self._paragraph(KEEP_FOR_RETURN, size=9, color=GREY)

    def _issuer(self) -> None:
        issuer = self.s.issuer
        self.y -= 12
        x, label_width = LEFT + 200, 60
        rows = [("発行者", issuer.name), ("所在地", issuer.address)]
        if issuer.representative:
            rows.append(("代表者", issuer.representative))
        blocks = []
        for label, value in rows:
            font, size = (GOTHIC, 12) if label == "発行者" else (MINCHO, 10)
            blocks.append((label, font, size, wrap(value, font, size, RIGHT - x - label_width)))
        # Keep the issuer block and the verification block together, measured rather than guessed, so that a
        # monthly donor's twelve gifts still fit on one page with them.
        self._ensure(sum(len(lines) * size * 1.6 for _, _, size, lines in blocks) + VERIFICATION_HEIGHT)
        for label, font, size, lines in blocks:
            self._ensure(len(lines) * size * 1.6)
            self.text.draw(x, self.y - size * 1.2, label, MINCHO, 9)
            for line in lines:
                self.y -= size * 1.6
                self.text.draw(x + label_width, self.y + size * 0.4, line, font, size)

    def _verification(self) -> None:
        size = QR_SIZE
        self.y -= 16
        self._ensure(size)
        top = self.y
        # A drawing past the page count it assumed is only counting pages (see render_receipt): the code can wait.
        if self.page <= self.pages:
            matrix = qr_matrix(self.s.verification_url or self.s.number)
            self.pdf.addLiteral(qr_inline_image(matrix, LEFT, top - size, size))
        text_x = LEFT + size + 10
        self._paragraph(
            "発行内容の確認（QRコードまたは下記URL）", font=GOTHIC, size=8.5, x=text_x, width=RIGHT - text_x
        )
        self._paragraph(self.s.verification_url, size=8.5, x=text_x, width=RIGHT - text_x)
        self._paragraph(f"照合コード：{self.s.verification_code}", size=8.5, x=text_x, width=RIGHT - text_x)
        self.y = min(self.y, top - size)
