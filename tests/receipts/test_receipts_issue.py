"""issue_receipt: what each issuer kind prints, R1–R5, gapless numbers, delivery with the PDF attached."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from kyodo_fund.audit import SYSTEM
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import DonationStatus, ReceiptPreference
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.receipts.issuers import Issuer, issuer_kind_on
from kyodo_fund.receipts.models import Receipt, ReceiptCounter, ReceiptHold
from kyodo_fund.receipts.services import NotReceiptable, ReceiptDataMissing, issue_receipt
from kyodo_fund.receipts.tasks import issue_due_receipts
from kyodo_fund.tax.kinds import IssuerKind
from tests.receipts.conftest import pdf_text, squeeze

ISSUED_AT = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 令和8年4月1日 in Tokyo
TAX_WORDS = ("寄附金控除", "税額控除", "所得控除", "寄附金受領証明書")
COMMON = ("R-2026-000001", "令和8年4月1日", "長野県松本市丸の内3-7", "信濃花子", "¥10,000-", "令和8年3月10日")
EXTRAS = {
    "nintei_npo": ("寄附金受領証明書", "認定番号", "長野県指令5地域第123号", "令和5年4月1日", "環境の保全"),
    "koeki_cert": ("寄附金受領証明書", "主たる目的である業務に関連する寄附金", "府益第456号", "令和6年6月1日"),
    "koeki": ("寄附金受領証明書", "主たる目的である業務に関連する寄附金", "所得控除のみ対象"),
    "jorei_npo": ("寄附金受領証明書", "長野県", "令和2年10月19日", "条例"),
    "plain": ("領収書",),
}


@pytest.fixture
def clock():
    with time_machine.travel(ISSUED_AT, tick=True):
        yield


@pytest.mark.parametrize("kind", list(EXTRAS))
def test_each_issuer_kind_prints_every_required_field(kind, db_session, app_ctx, clock, configure_issuer, gift):
    issuer = configure_issuer(kind)
    receipt = issue_receipt(db_session, gift(amount_yen=10_000), SYSTEM)
    text = pdf_text(receipt.pdf)
    for needle in (*COMMON, squeeze(issuer["name"]), issuer["address"], "信州の森づくりプロジェクト", *EXTRAS[kind]):
        assert needle in text, needle
    assert receipt.verification_code in text
    if kind == "plain":
        for word in TAX_WORDS:
            assert word not in text, word


def test_tax_excluded_project_gets_a_plain_receipt(db_session, app_ctx, clock, configure_issuer, gift, project):
    configure_issuer("koeki_cert")
    project.tax_excluded = True
    receipt = issue_receipt(db_session, gift(), SYSTEM)
    text = pdf_text(receipt.pdf)
    assert "領収書" in text
    for word in TAX_WORDS:
        assert word not in text, word
    assert receipt.snapshot["issuer"]["kind"] == "plain"


def test_general_pool_gift_names_the_fund_as_purpose(db_session, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki")
    receipt = issue_receipt(db_session, gift(project=None), SYSTEM)
    assert "公益財団法人長野県みらい基金への寄附金として" in pdf_text(receipt.pdf)


def test_wareki_and_tokyo_date_basis(db_session, app_ctx, configure_issuer, gift):
    """Paid 2019-04-30T15:30Z is 1 May 2019 in Tokyo: 令和元年, not 平成31年 (§2, §5)."""
    configure_issuer("koeki")
    with time_machine.travel(datetime(2019, 5, 7, 1, 0, tzinfo=UTC), tick=True):
        receipt = issue_receipt(db_session, gift(paid_at=datetime(2019, 4, 30, 15, 30, tzinfo=UTC)), SYSTEM)
    text = pdf_text(receipt.pdf)
    assert "令和元年5月1日" in text and "令和元年5月7日" in text
    assert "平成31年" not in text
    assert receipt.display_number == "R-2019-000001"


def test_numbers_are_gapless_per_issuer_and_year(db_session, app_ctx, configure_issuer, gift):
    configure_issuer("koeki")
    numbers = []
    with time_machine.travel(datetime(2026, 12, 31, 14, 0, tzinfo=UTC), tick=False):  # 23:00 JST
        numbers += [issue_receipt(db_session, gift(), SYSTEM).display_number for _ in range(3)]
    with time_machine.travel(datetime(2026, 12, 31, 15, 0, tzinfo=UTC), tick=False):  # 00:00 JST, 1 January
        numbers += [issue_receipt(db_session, gift(), SYSTEM).display_number for _ in range(2)]
    assert numbers == ["R-2026-000001", "R-2026-000002", "R-2026-000003", "R-2027-000001", "R-2027-000002"]
    counters = {(c.year, c.value) for c in db_session.scalars(select(ReceiptCounter))}
    assert counters == {(2026, 3), (2027, 2)}


def test_missing_address_takes_no_number_and_lands_in_needs_data(db_session, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki_cert")
    incomplete = gift(donor_address="", donor_postal_code="")
    complete = gift()
    with pytest.raises(ReceiptDataMissing) as excinfo:
        issue_receipt(db_session, incomplete, SYSTEM)
    assert excinfo.value.problems == ["寄附者の住所がありません"]
    assert db_session.scalar(select(ReceiptCounter.value)) is None
    db_session.commit()  # the job rolls back its own failed work; keep the test's gifts out of that
    counts = issue_due_receipts(db_session, {})
    assert counts == {"needs_data": 1, "issued": 1}
    hold = db_session.get(ReceiptHold, incomplete.id)
    assert hold.problems == ["寄附者の住所がありません"] and hold.context == "receipt"
    receipt = db_session.scalar(select(Receipt).where(Receipt.donation_id == complete.id))
    assert receipt.display_number == "R-2026-000001"  # the held gift consumed nothing

    incomplete.donor_address = "長野県上田市大手1-11-16"
    assert issue_due_receipts(db_session, {}) == {"issued": 1}
    assert db_session.get(ReceiptHold, incomplete.id) is None
    assert db_session.scalar(select(Receipt.display_number).where(Receipt.donation_id == incomplete.id)) == (
        "R-2026-000002"
    )


def test_profile_address_fills_a_gift_without_one(db_session, app_ctx, clock, configure_issuer, gift):
    from tests.factories import make_user

    configure_issuer("koeki_cert")
    user = make_user(db_session, name="木曽 一郎", address="長野県木曽郡木曽町福島2326-6", postal_code="397-0001")
    receipt = issue_receipt(db_session, gift(user_id=user.id, donor_name="", donor_address=""), SYSTEM)
    text = pdf_text(receipt.pdf)
    assert "木曽一郎" in text and "長野県木曽郡木曽町福島2326-6" in text
    assert receipt.user_id == user.id and receipt.donor_key == f"u:{user.id}"


@pytest.mark.parametrize(
    "fields",
    [
        {"receipt_preference": ReceiptPreference.ANNUAL},
        {"status": DonationStatus.PENDING},
        {"status": DonationStatus.DISPUTED},
        {"anonymous": True},
        {"status": DonationStatus.REFUNDED, "refunded_yen": 3000},
    ],
)
def test_gifts_that_get_no_per_donation_receipt(fields, db_session, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki")
    donation = gift(**fields)
    with pytest.raises(NotReceiptable):
        issue_receipt(db_session, donation, SYSTEM)
    db_session.commit()
    assert issue_due_receipts(db_session, {}) == {}


def test_a_gift_is_receipted_once(db_session, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki")
    donation = gift()
    issue_receipt(db_session, donation, SYSTEM)
    with pytest.raises(NotReceiptable):
        issue_receipt(db_session, donation, SYSTEM)
    db_session.commit()
    assert issue_due_receipts(db_session, {}) == {}


def test_partially_refunded_gift_is_receipted_for_the_net_amount(db_session, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki")
    donation = gift(amount_yen=10_000, refunded_yen=3_000, status=DonationStatus.PARTIALLY_REFUNDED)
    receipt = issue_receipt(db_session, donation, SYSTEM)
    assert receipt.amount_yen == 7_000 and "¥7,000-" in pdf_text(receipt.pdf)


def test_issue_is_audited_and_mailed_with_the_pdf(
    db_session, app_ctx, clock, configure_issuer, gift, send_mail, mailbox
):
    configure_issuer("koeki")
    donation = gift(donor_email="hanako@example.jp")
    receipt = issue_receipt(db_session, donation, SYSTEM)
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "receipts.issue"))
    assert entry.object_id == str(receipt.id) and entry.after["number"] == "R-2026-000001"
    message = db_session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == f"receipt:{receipt.id}"))
    assert message.to_address == "hanako@example.jp"
    assert send_mail()["sent"] == 1
    (mail,) = mailbox
    assert mail["To"] == "hanako@example.jp"
    assert "R-2026-000001" in mail["Subject"]
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "R-2026-000001.pdf"
    assert attachment.get_content() == receipt.pdf
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert f"/receipts/verify/{receipt.verification_code}" in body


def test_qr_target_is_the_public_verification_url(db_session, app, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki")
    receipt = issue_receipt(db_session, gift(), SYSTEM)
    expected = f"{app.config['PUBLIC_BASE_URL']}/receipts/verify/{receipt.verification_code}"
    assert receipt.snapshot["verification_url"] == expected
    assert len(receipt.verification_code) >= 20


# --- the issuer rules (R2–R5) as pure functions ------------------------------------------------------------


def _issuer(kind: str, **fields) -> Issuer:
    return Issuer.from_config({"kind": kind, "name": "n", "address": "a", **fields})


class _Project:
    def __init__(self, tax_excluded: bool) -> None:
        self.tax_excluded = tax_excluded


@pytest.mark.parametrize(
    ("kind", "fields", "day", "expected"),
    [
        # R3: the 税額控除 certificate counts for five years from its date, not before it.
        (
            "koeki",
            {"tax_credit_cert_number": "x", "tax_credit_cert_date": "2024-06-01"},
            date(2029, 5, 31),
            "koeki_cert",
        ),
        ("koeki", {"tax_credit_cert_number": "x", "tax_credit_cert_date": "2024-06-01"}, date(2029, 6, 1), "koeki"),
        (
            "koeki_cert",
            {"tax_credit_cert_number": "x", "tax_credit_cert_date": "2024-06-01"},
            date(2024, 5, 31),
            "koeki",
        ),
        ("koeki_cert", {}, date(2026, 1, 1), "koeki"),  # R6: no certificate configured → 所得控除 only
        # R2: 認定 wording only within the certification period (or while a renewal is pending).
        (
            "nintei_npo",
            {"certified_on": "2023-04-01", "certification_expires_on": "2028-03-31"},
            date(2023, 3, 31),
            "plain",
        ),
        (
            "nintei_npo",
            {"certified_on": "2023-04-01", "certification_expires_on": "2028-03-31"},
            date(2028, 3, 31),
            "nintei_npo",
        ),
        (
            "nintei_npo",
            {"certified_on": "2023-04-01", "certification_expires_on": "2028-03-31"},
            date(2028, 4, 1),
            "plain",
        ),
        (
            "nintei_npo",
            {"certified_on": "2023-04-01", "certification_expires_on": "2028-03-31", "renewal_pending": True},
            date(2028, 4, 1),
            "nintei_npo",
        ),
        # A lapsed 認定 that is also 条例指定 still carries the resident-tax wording.
        (
            "nintei_npo",
            {
                "certified_on": "2023-04-01",
                "certification_expires_on": "2028-03-31",
                "pref_designated_from": "2020-10-19",
            },
            date(2028, 4, 1),
            "jorei_npo",
        ),
        # R4: Nagano's second list covers gifts from 2020-10-19.
        ("jorei_npo", {"pref_designated_from": "2020-10-19"}, date(2020, 10, 18), "plain"),
        ("jorei_npo", {"pref_designated_from": "2020-10-19"}, date(2020, 10, 19), "jorei_npo"),
        ("plain", {}, date(2026, 1, 1), "plain"),
    ],
)
def test_issuer_kind_on(kind, fields, day, expected):
    assert issuer_kind_on(_issuer(kind, **fields), day, None) == IssuerKind(expected)


@pytest.mark.parametrize("kind", ["nintei_npo", "koeki_cert", "koeki", "jorei_npo"])
def test_tax_excluded_projects_never_carry_tax_wording(kind):
    issuer = _issuer(
        kind,
        certified_on="2020-01-01",
        tax_credit_cert_number="x",
        tax_credit_cert_date="2025-01-01",
        pref_designated_from="2012-01-01",
    )
    assert issuer_kind_on(issuer, date(2026, 1, 1), _Project(tax_excluded=True)) == IssuerKind.PLAIN
    assert issuer_kind_on(issuer, date(2026, 1, 1), _Project(tax_excluded=False)) != IssuerKind.PLAIN


@pytest.fixture
def direct(app):
    app.config["PROGRAMME_RECIPIENT_MODEL"] = "direct"
    yield
    app.config["PROGRAMME_RECIPIENT_MODEL"] = "fund"


def _certify(db_session, org, kind="nintei", **fields):
    from kyodo_fund.certification.models import CertificationRecord, RecordKind

    values = {
        "notice_number": "長野県指令7地域第45号",
        "granted_on": date(2025, 4, 1),
        "valid_until": date(2030, 3, 31),
    }
    if kind != "nintei":
        values = {"valid_until": None, "granted_on": date(2020, 10, 19)}
    record = CertificationRecord(organisation_id=org.id, kind=RecordKind(kind), **(values | fields))
    db_session.add(record)
    db_session.flush()
    return record


def test_direct_programme_the_certified_organisation_issues(
    db_session, app_ctx, clock, configure_issuer, gift, project, direct
):
    configure_issuer("koeki")
    org = project.organisation
    _certify(db_session, org)
    _certify(db_session, org, "pref_designation")
    fund_receipt = issue_receipt(db_session, gift(project=None), SYSTEM)
    org_receipt = issue_receipt(db_session, gift(), SYSTEM)
    assert (fund_receipt.issuer_key, fund_receipt.display_number) == ("fund", "R-2026-000001")
    assert (org_receipt.issuer_key, org_receipt.display_number) == (f"org:{org.id}", "R-2026-000001")
    text = pdf_text(org_receipt.pdf)
    for needle in (squeeze(org.name), "認定番号", "長野県指令7地域第45号", "令和7年4月1日", "環境の保全", "条例指定"):
        assert needle in text, needle
    assert "公益財団法人長野県みらい基金" not in text


def test_direct_programme_before_its_certification_is_plain(
    db_session, app_ctx, clock, configure_issuer, gift, project, direct
):
    configure_issuer("koeki")
    _certify(db_session, project.organisation, granted_on=date(2026, 6, 1))  # after the gift of 10 March
    receipt = issue_receipt(db_session, gift(), SYSTEM)
    text = pdf_text(receipt.pdf)
    assert "領収書" in text and "寄附金受領証明書" not in text and "認定番号" not in text
    assert receipt.snapshot["issuer"]["kind"] == "plain"


def test_unknown_recipient_model_is_refused(app, app_ctx, db_session, gift):
    app.config["PROGRAMME_RECIPIENT_MODEL"] = "agency"
    try:
        with pytest.raises(RuntimeError, match="PROGRAMME_RECIPIENT_MODEL"):
            issue_receipt(db_session, gift(), SYSTEM)
    finally:
        app.config["PROGRAMME_RECIPIENT_MODEL"] = "fund"
    assert db_session.scalar(select(Receipt.id)) is None


def test_the_qr_code_image_encodes_the_verification_url(db_session, app_ctx, clock, configure_issuer, gift):
    import io

    import zxingcpp
    from pypdf import PdfReader

    configure_issuer("koeki")
    receipt = issue_receipt(db_session, gift(), SYSTEM)
    (image,) = PdfReader(io.BytesIO(receipt.pdf)).pages[0].images
    # One pixel per module: scale it up as a printer would, then scan it.
    pixels = image.image.convert("L")
    pixels = pixels.resize((pixels.width * 6, pixels.height * 6), resample=0)
    (found,) = zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormat.QRCode)
    assert found.text == receipt.snapshot["verification_url"]


def test_verification_codes_use_the_alphabet_and_redraw_biased_bytes(monkeypatch):
    from kyodo_fund.receipts import build

    codes = {build.new_verification_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == build.CODE_LENGTH and set(code) <= set(build.CODE_ALPHABET) for code in codes)
    # Bytes 248-255 would favour the first eight symbols (256 = 8 × 31 + 8): they must be dropped, not folded in.
    draws = iter([bytes([255, 248]) * 20, bytes(range(40))])
    monkeypatch.setattr(build.secrets, "token_bytes", lambda n: next(draws))
    assert build.new_verification_code() == build.CODE_ALPHABET[:26]
