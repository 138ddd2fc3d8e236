"""Void, 再発行, and the corrections refunds and disputes force (receipts-and-tax.md §4, tests 12, 13, 22)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import SYSTEM, Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import Donation, DonationStatus
from kyodo_fund.receipts.models import Receipt, ReceiptedGift, ReceiptKind, ReceiptStatus
from kyodo_fund.receipts.refunds import apply_refunds
from kyodo_fund.receipts.services import (
    AlreadyVoided,
    NotPermitted,
    ReasonRequired,
    issue_receipt,
    reissue_receipt,
    void_receipt,
)
from kyodo_fund.receipts.tasks import issue_due_receipts
from tests.factories import make_user
from tests.receipts.conftest import pdf_text


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 4, 1, 1, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def admin(db_session):
    return Actor(user=make_user(db_session, role=UserRole.ADMIN), ip="203.0.113.9")


@pytest.fixture
def issued(db_session, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki")
    return issue_receipt(db_session, gift(amount_yen=10_000, donor_email="hanako@example.jp"), SYSTEM)


def audit(db_session, action):
    return db_session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_void_needs_a_reason_and_marks_the_pdf(db_session, issued, admin):
    with pytest.raises(ReasonRequired):
        void_receipt(db_session, issued, admin, "  ")
    void_receipt(db_session, issued, admin, "二重計上のため")
    assert issued.status == ReceiptStatus.VOIDED and issued.void_reason == "二重計上のため"
    assert [g.in_force for g in issued.gifts] == [False]
    (entry,) = audit(db_session, "receipts.void")
    assert entry.actor_id == admin.user.id and entry.note == "二重計上のため" and entry.ip == "203.0.113.9"
    with pytest.raises(AlreadyVoided):
        void_receipt(db_session, issued, admin, "もう一度")
    from kyodo_fund.receipts.services import current_pdf

    assert "取消" in pdf_text(current_pdf(issued))
    assert "取消" not in pdf_text(issued.pdf)  # the stored original stays as issued


def test_reissue_keeps_number_content_and_dates_with_the_mark(db_session, issued, admin):
    with time_machine.travel(datetime(2026, 9, 1, 1, 0, tzinfo=UTC), tick=True):
        first = reissue_receipt(db_session, issued, admin, "紛失のため")
        second = reissue_receipt(db_session, first, admin, "再度紛失")  # a copy of a copy is a copy of the original
    assert (first.display_number, second.display_number) == ("R-2026-000001-R1", "R-2026-000001-R2")
    assert (first.kind, first.number, first.reissue_of_id, first.issued_on) == (
        ReceiptKind.REISSUE,
        issued.number,
        issued.id,
        issued.issued_on,
    )
    text = pdf_text(first.pdf)
    assert "再発行" in text and "R-2026-000001-R1" in text
    assert "令和8年4月1日" in text and "令和8年9月1日" not in text  # original dates, not today's
    assert first.snapshot["donor"] == issued.snapshot["donor"] and first.snapshot["lines"] == issued.snapshot["lines"]
    reasons = [e.note for e in audit(db_session, "receipts.reissue")]
    assert reasons == ["紛失のため", "再度紛失"]
    assert db_session.scalar(select(ReceiptedGift).where(ReceiptedGift.receipt_id == first.id)) is None


def test_only_administrators_reissue(db_session, issued):
    donor = Actor(user=make_user(db_session))
    with pytest.raises(NotPermitted):
        reissue_receipt(db_session, issued, donor, "自分で再発行")
    with pytest.raises(NotPermitted):
        reissue_receipt(db_session, issued, SYSTEM, "ジョブから")
    with pytest.raises(NotPermitted):
        void_receipt(db_session, issued, donor, "取り消したい")


def test_voiding_the_original_voids_its_reissue_copies(db_session, issued, admin):
    copy = reissue_receipt(db_session, issued, admin, "紛失のため")
    void_receipt(db_session, issued, admin, "誤発行")
    assert copy.status == ReceiptStatus.VOIDED
    with pytest.raises(AlreadyVoided):
        reissue_receipt(db_session, issued, admin, "再発行したい")


def _refund(donation, refunded: int, status: DonationStatus) -> None:
    donation.refunded_yen, donation.status, donation.receipt_needs_review = refunded, status, True


def test_partial_then_full_refund(db_session, issued):
    """¥10,000 R-…-000001; ¥3,000 refunded → 000001 void, 000002 for ¥7,000; the rest refunded → 000002 void."""
    donation = db_session.get(Donation, issued.donation_id)
    _refund(donation, 3_000, DonationStatus.PARTIALLY_REFUNDED)
    assert apply_refunds(db_session, SYSTEM) == {"replaced": 1}
    replacement = db_session.scalar(select(Receipt).where(Receipt.kind == ReceiptKind.REPLACEMENT))
    assert issued.status == ReceiptStatus.VOIDED and issued.replaced_by_id == replacement.id
    assert (replacement.display_number, replacement.amount_yen, replacement.replaces_id) == (
        "R-2026-000002",
        7_000,
        issued.id,
    )
    text = pdf_text(replacement.pdf)
    assert "¥7,000-" in text and "R-2026-000001（取消済み）に代わる" in text
    assert donation.receipt_needs_review is False

    _refund(donation, 10_000, DonationStatus.REFUNDED)
    assert apply_refunds(db_session, SYSTEM) == {"voided": 1}
    assert replacement.status == ReceiptStatus.VOIDED
    in_force = db_session.scalars(select(ReceiptedGift).where(ReceiptedGift.in_force.is_(True))).all()
    assert in_force == []
    assert [e.after["number"] for e in audit(db_session, "receipts.void")] == ["R-2026-000001", "R-2026-000002"]
    assert audit(db_session, "receipts.replace")[0].after == {"number": "R-2026-000002", "amount_yen": 7_000}


def test_refund_flag_through_the_job_commits_each(db_session, issued, app):
    donation = db_session.get(Donation, issued.donation_id)
    _refund(donation, 10_000, DonationStatus.REFUNDED)
    db_session.commit()
    assert issue_due_receipts(db_session, app.config) == {"refund_voided": 1}
    assert issued.status == ReceiptStatus.VOIDED


def test_dispute_freezes_then_won_restores_and_lost_voids(db_session, issued):
    donation = db_session.get(Donation, issued.donation_id)
    donation.status, donation.receipt_needs_review = DonationStatus.DISPUTED, True
    assert apply_refunds(db_session, SYSTEM) == {"frozen": 1}
    assert donation.receipt_needs_review is True and issued.is_valid  # nothing until the dispute closes

    donation.status = DonationStatus.PAID  # won
    assert apply_refunds(db_session, SYSTEM) == {"unchanged": 1}
    assert issued.is_valid and donation.receipt_needs_review is False

    donation.status, donation.receipt_needs_review = DonationStatus.DISPUTE_LOST, True
    assert apply_refunds(db_session, SYSTEM) == {"voided": 1}
    assert issued.status == ReceiptStatus.VOIDED and "チャージバック" in issued.void_reason


def test_refund_before_the_receipt_is_issued_receipts_the_net(db_session, app_ctx, clock, configure_issuer, gift):
    configure_issuer("koeki")
    donation = gift(amount_yen=10_000)
    _refund(donation, 4_000, DonationStatus.PARTIALLY_REFUNDED)
    db_session.commit()
    assert issue_due_receipts(db_session, {}) == {"refund_unchanged": 1, "issued": 1}
    receipt = db_session.scalar(select(Receipt).where(Receipt.donation_id == donation.id))
    assert receipt.amount_yen == 6_000
