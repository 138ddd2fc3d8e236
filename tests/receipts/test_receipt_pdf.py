"""Receipt PDFs: what each issuer kind must print, marks, long statements, QR, determinism, validation.

The QR matrices are scanned in test_receipt_qr.py; here the printed code is read back from the page.

Text is extracted with pypdf and, when poppler-utils is installed, with ``pdftotext -layout``. CID text
comes out with layout spacing, so both sides of every comparison have all whitespace removed.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from kyodo_fund.receipts.pdf import render_plain_page, render_receipt, validate_snapshot
from kyodo_fund.receipts.qr import qr_matrix
from kyodo_fund.receipts.snapshot import (
    Designation,
    DocumentKind,
    DonorSnapshot,
    IssuerSnapshot,
    ReceiptFlags,
    ReceiptLine,
    ReceiptSnapshot,
)
from kyodo_fund.tax.kinds import IssuerKind

PDFTOTEXT = "/usr/bin/pdftotext" if os.path.exists("/usr/bin/pdftotext") else shutil.which("pdftotext")
PDFTOPPM = "/usr/bin/pdftoppm" if os.path.exists("/usr/bin/pdftoppm") else shutil.which("pdftoppm")
TAX_WORDS = ("寄附金控除", "税額控除", "所得控除", "寄附金受領証明書")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pypdf_pages(pdf: bytes) -> list[str]:
    return [squeeze(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def pdftotext_pages(pdf: bytes) -> list[str]:
    out = subprocess.run([PDFTOTEXT, "-layout", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True)
    return [squeeze(page) for page in out.stdout.decode("utf-8").split("\f") if page.strip()]


@pytest.fixture(params=["pypdf", "pdftotext"])
def extract(request):
    if request.param == "pdftotext":
        if not PDFTOTEXT:
            pytest.skip("pdftotext (Debian poppler-utils) is not installed; the pypdf variant still runs")
        return pdftotext_pages
    return pypdf_pages


def issuer(kind: IssuerKind, **changes) -> IssuerSnapshot:
    fields = {
        "kind": kind,
        "name": "特定非営利活動法人 信州みどりの会",
        "address": "長野県長野市大字南長野字幅下692-2",
        "representative": "理事長 山田太郎",
    }
    if kind == IssuerKind.NINTEI_NPO:
        fields |= {
            "certification_number": "長野県指令5地域第123号",
            "certified_on": date(2023, 4, 1),
            "certification_expires_on": date(2028, 3, 31),
        }
    if kind == IssuerKind.KOEKI_CERT:
        fields |= {"tax_credit_cert_number": "府益第456号", "tax_credit_cert_on": date(2024, 6, 1)}
    if kind == IssuerKind.JOREI_NPO:
        fields |= {"designations": (Designation("長野県", date(2020, 10, 19)),)}
    return IssuerSnapshot(**(fields | changes))


def snapshot(
    kind: IssuerKind = IssuerKind.NINTEI_NPO, *, lines=None, issuer_changes=None, **changes
) -> ReceiptSnapshot:
    lines = lines or (ReceiptLine(date(2026, 1, 15), 12_345, "信州の森づくりプロジェクト", "環境の保全を図る活動"),)
    fields = {
        "number": "R-2026-000123",
        "document_kind": DocumentKind.RECEIPT,
        "issued_on": date(2026, 1, 20),
        "issuer": issuer(kind, **(issuer_changes or {})),
        "donor": DonorSnapshot("信濃 花子", "長野県松本市丸の内3-7", "390-0873"),
        "lines": tuple(lines),
        "total_yen": sum(line.amount_yen for line in lines),
        "verification_code": "7KQ2-M9XD",
        "verification_url": "https://kyodo.example.jp/receipts/verify/7KQ2M9XD",
    }
    return ReceiptSnapshot(**(fields | changes))


COMMON = (
    "R-2026-000123",
    "令和8年1月20日",
    "信州みどりの会",
    "長野県長野市大字南長野字幅下692-2",
    "信濃花子",
    "長野県松本市丸の内3-7",
    "¥12,345-",
    "受領年月日",
    "令和8年1月15日",
    "信州の森づくりプロジェクト",
)
EXTRAS = {
    IssuerKind.NINTEI_NPO: (
        "寄附金受領証明書",
        "認定番号",
        "長野県指令5地域第123号",
        "認定年月日",
        "令和5年4月1日",
        "環境の保全を図る活動",
    ),
    IssuerKind.KOEKI_CERT: (
        "寄附金受領証明書",
        "主たる目的である業務に関連する寄附金",
        "税額控除に係る証明書",
        "府益第456号",
        "令和6年6月1日",
    ),
    IssuerKind.KOEKI: ("寄附金受領証明書", "主たる目的である業務に関連する寄附金", "所得控除のみ対象"),
    IssuerKind.JOREI_NPO: ("寄附金受領証明書", "長野県", "令和2年10月19日", "条例"),
    IssuerKind.PLAIN: ("領収書",),
}


@pytest.mark.parametrize("kind", list(IssuerKind))
def test_every_mandatory_field_is_printed(kind, extract):
    pages = extract(render_receipt(snapshot(kind)))
    assert len(pages) == 1
    for needle in COMMON + EXTRAS[kind]:
        assert squeeze(needle) in pages[0], needle


def test_plain_receipt_has_no_tax_wording_even_if_the_snapshot_carries_some(extract):
    loaded = snapshot(
        IssuerKind.PLAIN,
        issuer_changes={"designations": (Designation("長野市", date(2012, 1, 1)),)},
        document_kind=DocumentKind.ANNUAL_STATEMENT,
        tax_estimate_text="所得控除 ¥1,000 税額控除 ¥400",
    )
    text = "".join(extract(render_receipt(loaded)))
    assert "領収書" in text
    for word in TAX_WORDS:
        assert word not in text, word
    assert "長野市" not in text.replace("長野県長野市", "")  # the designation line is not printed either


def test_koeki_without_certificate_says_deduction_only_and_nothing_about_a_certificate(extract):
    text = extract(render_receipt(snapshot(IssuerKind.KOEKI)))[0]
    assert "所得控除のみ対象" in text
    assert "税額控除に係る証明書" not in text


def test_marks_appear_only_when_flagged(extract):
    plain_text = extract(render_receipt(snapshot()))[0]
    assert "取消" not in plain_text and "再発行" not in plain_text
    voided = snapshot(flags=ReceiptFlags(voided=True))
    assert "取消" in extract(render_receipt(voided))[0]
    reissued = snapshot(number="R-2026-000123-R1", flags=ReceiptFlags(reissue=True))
    text = extract(render_receipt(reissued))[0]
    assert "再発行" in text and "R-2026-000123-R1" in text
    replacement = snapshot(number="R-2026-000187", flags=ReceiptFlags(replaces_number="R-2026-000123"))
    assert "R-2026-000123（取消済み）に代わる" in extract(render_receipt(replacement))[0]


def test_annual_statement_with_60_lines_spans_pages_and_ends_with_the_total(extract):
    lines = [
        ReceiptLine(
            date(2025, 1 + i % 12, 1 + i % 28), 1_000 + 37 * i, f"プロジェクト{i}", "子どもの健全育成を図る活動"
        )
        for i in range(60)
    ]
    statement = snapshot(
        number="S-2026-000001",
        document_kind=DocumentKind.ANNUAL_STATEMENT,
        lines=lines,
        period_from=date(2025, 1, 1),
        period_to=date(2025, 12, 31),
        tax_estimate_text="税額控除を選ぶ場合の目安: ¥20,800",
    )
    pdf = render_receipt(statement)
    pages = extract(pdf)
    assert len(pages) >= 2
    assert all("S-2026-000001" in page for page in pages)
    total = "¥" + f"{statement.total_yen:,}" + "-"
    assert total == "¥125,490-"
    assert "合計" in pages[-1] and total in pages[-1] and "60件" in pages[-1]
    assert total not in "".join(pages[:-1])
    everything = "".join(pages)
    for line in lines:
        assert f"¥{line.amount_yen:,}-" in everything
    assert "令和7年1月1日から令和7年12月31日まで" in pages[0]
    assert "¥20,800" in everything
    for number, page in enumerate(pages, start=1):
        assert f"S-2026-000001{number}/{len(pages)}" in page  # footer: number, page / page count


@pytest.mark.parametrize("flags", [ReceiptFlags(), ReceiptFlags(voided=True)])
def test_a_one_page_document_is_page_1_of_1(flags, extract):
    (page,) = extract(render_receipt(snapshot(flags=flags)))
    assert "R-2026-0001231/1" in page  # footer: number, page / page count


def test_a_statement_that_runs_onto_a_second_page_counts_two_and_ends_with_the_qr_code(extract):
    """Twenty gifts need a second sheet: each footer says so, and the QR code is drawn once, on the last page."""
    lines = [ReceiptLine(date(2025, 1 + i % 12, 1), 1_000 + i, f"プロジェクト{i}", "環境の保全") for i in range(20)]
    statement = snapshot(number="S-2026-000002", document_kind=DocumentKind.ANNUAL_STATEMENT, lines=lines)
    pdf = render_receipt(statement)
    pages = extract(pdf)
    assert len(pages) == 2
    assert "S-2026-0000021/2" in pages[0] and "S-2026-0000022/2" in pages[1]
    assert "7KQ2-M9XD" in pages[1]
    assert [len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages] == [0, 1]
    assert render_receipt(statement) == pdf


def test_qr_code_is_an_image_and_the_url_is_printed(extract):
    pdf = render_receipt(snapshot())
    assert squeeze("https://kyodo.example.jp/receipts/verify/7KQ2M9XD") in extract(pdf)[0]
    assert "7KQ2-M9XD" in extract(pdf)[0]
    (image,) = PdfReader(io.BytesIO(pdf)).pages[0].images  # inline, in the page's content stream
    assert image.image.width == image.image.height  # square, as a QR code is


@pytest.mark.skipif(not PDFTOPPM, reason="pdftoppm (Debian poppler-utils) is not installed")
def test_the_printed_qr_code_reads_back_as_the_verification_url(tmp_path):
    """What a viewer shows, not what the file says: poppler rasterises the page; a QR reader (zxing-cpp) finds
    the code on the whole page and reads the URL, and every module read at its centre is the encoder's, inside a
    light border."""
    url = "http://127.0.0.1:5000/receipts/verify/T29ZDHSCJV67FMNZKVXRZSY2P7"
    (tmp_path / "r.pdf").write_bytes(render_receipt(snapshot(verification_url=url)))
    content = PdfReader(tmp_path / "r.pdf").pages[0].get_contents().get_data().decode("latin-1")
    placed = re.search(r"q (\S+) 0 0 \S+ (\S+) (\S+) cm\nBI /W (\d+)", content)
    size, x, y, side = float(placed[1]), float(placed[2]), float(placed[3]), int(placed[4])
    expected = qr_matrix(url)
    border = (side - len(expected)) // 2
    assert border >= 2
    zoom = 4  # pixels per point: about six per module
    subprocess.run(
        [PDFTOPPM, "-r", str(72 * zoom), "-gray", "-png", "-singlefile", tmp_path / "r.pdf", tmp_path / "page"],
        check=True,
    )
    page = Image.open(tmp_path / "page.png").convert("L")
    assert [code.text for code in zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode)] == [url]
    module = size / side

    def dark(row: int, column: int) -> bool:  # row 0 at the top, counted from the image's edge
        cx = x + (column + 0.5) * module
        cy = y + size - (row + 0.5) * module
        return page.getpixel((round(cx * zoom), round(page.height - cy * zoom))) < 128

    read = [[dark(border + r, border + c) for c in range(len(expected))] for r in range(len(expected))]
    assert read == [[bool(m) for m in row] for row in expected]
    ring = [(r, c) for r in range(side) for c in range(side) if min(r, c, side - 1 - r, side - 1 - c) < border]
    assert not any(dark(r, c) for r, c in ring)  # the quiet zone is light


def test_same_snapshot_same_bytes_also_after_a_json_round_trip():
    original = snapshot(IssuerKind.JOREI_NPO, flags=ReceiptFlags(reissue=True))
    restored = ReceiptSnapshot.from_json(original.to_json())
    assert restored == original
    assert render_receipt(restored) == render_receipt(original)


def test_rendering_in_parallel_threads_needs_no_shared_state():
    snapshots = [snapshot(kind) for kind in IssuerKind] * 3
    expected = [render_receipt(s) for s in snapshots]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(render_receipt, snapshots)) == expected


def test_long_names_wrap_instead_of_running_off_the_page(extract):
    long_purpose = (
        "長野県北部地域における里山の保全と再生、ならびに次世代への環境教育を推進するための協働プロジェクト" * 2
    )
    pdf = render_receipt(snapshot(lines=[ReceiptLine(date(2026, 1, 15), 12_345, long_purpose, "環境の保全を図る活動")]))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert squeeze(long_purpose) in pypdf_pages(pdf)[0]


def test_snapshot_rejects_unknown_schema_version():
    data = snapshot().to_dict() | {"version": 99}
    with pytest.raises(ValueError, match="version"):
        ReceiptSnapshot.from_dict(data)


def test_plain_page_is_one_page_with_the_text(extract):
    pages = extract(render_plain_page("ベンチマーク用の一枚 ¥1,000-"))
    assert pages == [squeeze("ベンチマーク用の一枚 ¥1,000-")]


# --- validate_snapshot -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(IssuerKind))
def test_complete_snapshots_are_valid(kind):
    assert validate_snapshot(snapshot(kind)) == []


@pytest.mark.parametrize("kind", [IssuerKind.NINTEI_NPO, IssuerKind.KOEKI_CERT, IssuerKind.JOREI_NPO])
def test_donor_address_is_required_for_kinds_that_need_it(kind):
    missing = snapshot(kind, donor=DonorSnapshot("信濃 花子"))
    assert validate_snapshot(missing) == ["寄附者の住所がありません"]


@pytest.mark.parametrize("kind", [IssuerKind.KOEKI, IssuerKind.PLAIN])
def test_donor_address_is_optional_elsewhere(kind):
    assert validate_snapshot(snapshot(kind, donor=DonorSnapshot("信濃 花子"))) == []


def test_nintei_needs_certification_details_and_activity():
    incomplete = snapshot(
        issuer_changes={"certification_number": "", "certified_on": None},
        lines=[ReceiptLine(date(2026, 1, 15), 1_000, "森づくり", "")],
    )
    assert validate_snapshot(incomplete) == [
        "1件目の特定非営利活動（寄附が充てられる活動）がありません",
        "認定番号がありません",
        "認定年月日がありません",
    ]


def test_gift_before_certification_is_refused():
    early = snapshot(lines=[ReceiptLine(date(2023, 3, 31), 1_000, "森づくり", "環境の保全を図る活動")])
    assert validate_snapshot(early) == ["1件目の受領年月日が認定年月日より前です"]


def test_kind_specific_requirements():
    koeki_cert = snapshot(
        IssuerKind.KOEKI_CERT, issuer_changes={"tax_credit_cert_number": "", "tax_credit_cert_on": None}
    )
    assert validate_snapshot(koeki_cert) == [
        "税額控除に係る証明書の番号がありません",
        "税額控除に係る証明書の日付がありません",
    ]
    jorei = snapshot(IssuerKind.JOREI_NPO, issuer_changes={"designations": ()})
    assert validate_snapshot(jorei) == ["条例指定をした地方公共団体（県・市町村）がありません"]
    early = snapshot(IssuerKind.JOREI_NPO, lines=[ReceiptLine(date(2020, 10, 18), 1_000, "森づくり")])
    assert validate_snapshot(early) == ["1件目の受領年月日が条例指定の効力発生日より前です"]
    plain = snapshot(IssuerKind.PLAIN, tax_estimate_text="目安")
    assert validate_snapshot(plain) == ["領収書には税制優遇の目安を記載できません"]


def test_common_requirements():
    bad = snapshot(
        IssuerKind.KOEKI,
        number="2026-123",
        donor=DonorSnapshot("上様"),
        lines=[ReceiptLine(None, 0, "")],
        total_yen=5,
        verification_code="",
    )
    assert validate_snapshot(bad) == [
        "通番の形式が正しくありません（例: R-2026-000123）",
        "寄附者の氏名を「上様」にすることはできません",
        "照合コードがありません",
        "1件目の受領年月日がありません",
        "1件目の但し書き（寄附の目的）がありません",
        "1件目の金額が正しくありません",
        "合計金額が明細の合計と一致しません",
    ]
    assert "寄附の明細がありません" in validate_snapshot(dataclasses.replace(snapshot(), lines=(), total_yen=0))


def test_a_monthly_donors_year_fits_on_one_page_with_the_issuer_and_the_qr_code(extract):
    """Twelve monthly gifts to the fund (the common annual statement) print on one sheet."""
    lines = [ReceiptLine(date(2025, month, 1), 3_000, "信州協働ファンド") for month in range(1, 13)]
    statement = snapshot(
        IssuerKind.KOEKI,
        number="S-2026-000001",
        document_kind=DocumentKind.ANNUAL_STATEMENT,
        lines=lines,
        period_from=date(2025, 1, 1),
        period_to=date(2025, 12, 31),
        tax_estimate_text="所得控除の目安: ¥34,000（所得税率10%の場合 ¥3,400）",
    )
    pdf = render_receipt(statement)
    (page,) = extract(pdf)
    assert "¥36,000-" in page and "12件" in page
    assert squeeze(statement.issuer.name) in page and "7KQ2-M9XD" in page
    assert "S-2026-0000011/1" in page
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1  # the QR code on the same page
