"""The per-process cache of formatted PDF objects (``reuse_formatted_objects``): it must never change a byte.

Every comparison renders the same document twice, once with the cache and once with ``reuse_formatted_objects``
replaced by a no-op, which leaves reportlab's own objects to format themselves. The cached renderings run in one
sequence, first with an empty cache and then again, so documents of different shapes (page counts, the voided
overlay's transparency, issuers) meet each other's cached objects.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from datetime import date

import pytest
from pypdf import PdfReader
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from kyodo_fund.receipts import pdf as receipts_pdf
from kyodo_fund.receipts import typesetting
from kyodo_fund.receipts.pdf import render_plain_page, render_receipt
from kyodo_fund.receipts.snapshot import DocumentKind, DonorSnapshot, ReceiptFlags, ReceiptLine
from kyodo_fund.tax.kinds import IssuerKind
from tests.receipts.test_receipt_pdf import snapshot


@pytest.fixture(autouse=True)
def empty_caches():
    typesetting._FORMATTED_OBJECTS.clear()
    typesetting._INFO_FRAMES.clear()


def gifts(count: int) -> list[ReceiptLine]:
    return [
        ReceiptLine(
            date(2025, 1 + i % 12, 1 + i % 28), 1_000 + 37 * i, f"プロジェクト{i}", "子どもの健全育成を図る活動"
        )
        for i in range(count)
    ]


def statement(count: int, **changes):
    fields = {
        "number": f"S-2026-{count:06d}",
        "document_kind": DocumentKind.ANNUAL_STATEMENT,
        "lines": gifts(count),
        "period_from": date(2025, 1, 1),
        "period_to": date(2025, 12, 31),
        "tax_estimate_text": "税額控除を選ぶ場合の目安: ¥20,800",
    }
    return snapshot(**(fields | changes))


SNAPSHOTS = {
    **{f"receipt-{kind.value}": snapshot(kind) for kind in IssuerKind},
    "statement-12": statement(12),
    "statement-40": statement(40),
    "statement-90": statement(90),
    "voided": snapshot(flags=ReceiptFlags(voided=True)),
    "voided-statement-40": statement(40, flags=ReceiptFlags(voided=True)),
    "reissue": snapshot(number="R-2026-000123-R1", flags=ReceiptFlags(reissue=True)),
    "replacement": snapshot(number="R-2026-000187", flags=ReceiptFlags(replaces_number="R-2026-000123")),
    "supplement": statement(3, flags=ReceiptFlags(supplement=True)),
    "other-issuer": snapshot(issuer_changes={"name": "公益財団法人長野県みらい基金"}),
}


def stock(monkeypatch, render: Callable[[], bytes]) -> bytes:
    with monkeypatch.context() as patched:
        patched.setattr(receipts_pdf, "reuse_formatted_objects", lambda document: None)
        return render()


def test_every_kind_of_document_comes_out_byte_identical_to_reportlabs(monkeypatch):
    expected = {name: stock(monkeypatch, lambda s=s: render_receipt(s)) for name, s in SNAPSHOTS.items()}
    for attempt in ("empty cache", "filled cache"):
        for name, s in SNAPSHOTS.items():
            assert render_receipt(s) == expected[name], (name, attempt)
    # The set really covers what the cache keys on: several page counts and the voided overlay.
    page_counts = {name: len(PdfReader(io.BytesIO(pdf)).pages) for name, pdf in expected.items()}
    assert page_counts["receipt-nintei_npo"] == 1 and page_counts["voided-statement-40"] >= 2
    assert len(set(page_counts.values())) >= 3
    assert b"/ExtGState" in expected["voided"] and b"/ExtGState" not in expected["receipt-nintei_npo"]
    assert typesetting._FORMATTED_OBJECTS and typesetting._INFO_FRAMES


def test_documents_of_one_shape_reuse_every_cached_object():
    first = snapshot()
    render_receipt(first)
    objects, frames = dict(typesetting._FORMATTED_OBJECTS), dict(typesetting._INFO_FRAMES)
    # Catalog, page tree, page, font dictionary and Helvetica; the Info frame for the issuer.
    assert len(objects) == 5 and len(frames) == 1
    other_donor = dataclasses.replace(
        first, number="R-2026-000999", donor=DonorSnapshot("木曽 次郎", "長野県木曽郡木曽町福島1", "397-0001")
    )
    render_receipt(other_donor)
    assert objects == typesetting._FORMATTED_OBJECTS and frames == typesetting._INFO_FRAMES
    # Another issuer is another author: a second frame, the same page tree.
    render_receipt(snapshot(issuer_changes={"name": "信州ボランティアの会"}))
    assert objects == typesetting._FORMATTED_OBJECTS and len(typesetting._INFO_FRAMES) == 2


def test_the_plain_baseline_page_stays_stock_reportlab():
    render_plain_page("寄附金受領証明書 S-2026-000001 寄附 太郎 様")
    assert not typesetting._FORMATTED_OBJECTS and not typesetting._INFO_FRAMES


def _two_pages(pdf: canvas.Canvas) -> None:
    pdf.drawString(72, 720, "first")
    pdf.showPage()
    pdf.setFont("Times-Roman", 12)
    pdf.drawString(72, 720, "second")


def _translucent(pdf: canvas.Canvas) -> None:
    pdf.setFillAlpha(0.5)
    pdf.rect(72, 72, 100, 100, fill=1)


def _link_and_bookmark(pdf: canvas.Canvas) -> None:
    pdf.bookmarkPage("top")
    pdf.addOutlineEntry("Top", "top")
    pdf.linkURL("https://kyodo.example.jp/", (72, 72, 200, 90))


def _rotated_and_cropped(pdf: canvas.Canvas) -> None:
    pdf.setPageRotation(90)
    pdf.setCropBox((10, 10, 500, 700))


def _metadata(pdf: canvas.Canvas) -> None:
    pdf.setSubject("寄附金")
    pdf.setKeywords("receipt")
    pdf.setCreator("kyodo_fund")


def _stand_in_elsewhere(pdf: canvas.Canvas) -> None:
    # The Info frame is cut at the stand-in title's bytes: a subject with the same bytes must not confuse it.
    pdf.setSubject(typesetting._TITLE_STAND_IN)


CANVAS_CASES = {
    "two pages, two Type 1 fonts": ({}, _two_pages),
    "transparency": ({}, _translucent),
    "annotation and outline": ({}, _link_and_bookmark),
    "rotated, cropped": ({}, _rotated_and_cropped),
    "more metadata": ({}, _metadata),
    "stand-in title elsewhere": ({}, _stand_in_elsewhere),
    "encrypted": ({"encrypt": "secret"}, _two_pages),
    "encrypted with another password": ({"encrypt": "other"}, _two_pages),
    "encrypted, one page": ({"encrypt": "secret"}, _translucent),
    "catalog language": ({"lang": "ja-JP"}, _two_pages),
}


def _canvas_pdf(case: str, *, reuse: bool) -> bytes:
    options, draw = CANVAS_CASES[case]
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True, pageCompression=1, **options)
    pdf.setTitle("寄附金受領証明書 S-2026-000001")
    pdf.setAuthor("特定非営利活動法人 信州みどりの会")
    pdf.drawString(72, 760, "page")
    draw(pdf)
    pdf.showPage()
    if reuse:
        typesetting.reuse_formatted_objects(pdf._doc)
    pdf.save()
    return buffer.getvalue()


@pytest.mark.parametrize("setting", ["defaults", "multi-line", "comments"])
def test_reportlab_features_we_do_not_use_still_come_out_identical(setting, monkeypatch):
    """Beyond our documents: what else reportlab's objects can hold is either in the cache's key or left to
    reportlab — other fonts, annotations, a stray string, encryption (per password and object number), PDF
    comments, reportlab's line-break setting. The cache is filled with reportlab's defaults first."""
    for case in CANVAS_CASES:
        _canvas_pdf(case, reuse=True)
    filled = len(typesetting._FORMATTED_OBJECTS)
    if setting == "multi-line":
        monkeypatch.setattr(rl_config, "pdfMultiLine", 1)
    if setting == "comments":
        monkeypatch.setattr(rl_config, "pdfComments", 1)
        monkeypatch.setattr(rl_config, "invariant", 0)
    expected = {case: _canvas_pdf(case, reuse=False) for case in CANVAS_CASES}
    for _ in range(2):
        for case in CANVAS_CASES:
            assert _canvas_pdf(case, reuse=True) == expected[case], case
    if setting == "comments":
        assert all(b"% " in pdf for pdf in expected.values())
        # Comments name each object's class: such documents are left to reportlab and add nothing.
        assert len(typesetting._FORMATTED_OBJECTS) == filled
    if setting == "multi-line":
        assert len(typesetting._FORMATTED_OBJECTS) > filled
