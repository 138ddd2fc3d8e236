"""Keeping issued documents true after refunds and disputes (receipts-and-tax.md §4, payments.md §6).

The donations side sets ``Donation.receipt_needs_review``; ``review_receipt_for`` settles one such gift:
partial refund → void + replacement for the net amount; full refund or lost dispute → void; open dispute →
frozen (nothing happens, the flag stays until the dispute closes); a gift on an annual statement → the
statement is voided and replaced with the corrected amounts.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.donations.models import Donation, DonationStatus
from kyodo_fund.receipts import build
from kyodo_fund.receipts.models import Receipt, ReceiptedGift, ReceiptKind
from kyodo_fund.receipts.services import (
    RECEIPTABLE_STATUSES,
    issue_replacement,
    replace_receipt,
    snapshot_of,
    void_receipt,
)
from kyodo_fund.tax.estimator import EstimatorSettings

REASON_PARTIAL = "一部返金のため（返金後の金額で差替え）"
REASON_FULL = "全額返金のため"
REASON_DISPUTE_LOST = "カード会社への異議申立て（チャージバック）により返金されたため"


def net_yen(donation: Donation) -> int:
    """What the issuer still holds of the gift."""
    if donation.status not in RECEIPTABLE_STATUSES:
        return 0
    return donation.amount_yen - donation.refunded_yen


def _in_force(session: Session, donation_id: int) -> ReceiptedGift | None:
    return session.scalar(
        select(ReceiptedGift).where(ReceiptedGift.donation_id == donation_id, ReceiptedGift.in_force.is_(True))
    )


def review_receipt_for(session: Session, donation: Donation, actor: Actor) -> str:
    """Settle one flagged gift; returns what happened (used as the job's counts)."""
    if donation.status == DonationStatus.DISPUTED:
        return "frozen"
    covered = _in_force(session, donation.id)
    outcome = "unchanged"
    if covered is not None:
        document = covered.receipt
        net = net_yen(donation)
        if document.kind == ReceiptKind.ANNUAL_STATEMENT:
            outcome = _correct_statement(session, document, actor)
        elif net == covered.amount_yen:
            outcome = "unchanged"
        elif net == 0:
            reason = REASON_DISPUTE_LOST if donation.status == DonationStatus.DISPUTE_LOST else REASON_FULL
            void_receipt(session, document, actor, reason)
            outcome = "voided"
        else:
            replace_receipt(session, document, actor, net, REASON_PARTIAL)
            outcome = "replaced"
    donation.receipt_needs_review = False
    session.flush()
    return outcome


def _correct_statement(session: Session, statement: Receipt, actor: Actor) -> str:
    """Void the statement and, if any gift on it still stands, issue a corrected one with a new number."""
    donations = {
        d.id: d
        for d in session.scalars(select(Donation).where(Donation.id.in_([g.donation_id for g in statement.gifts])))
    }
    amounts = {g.donation_id: net_yen(donations[g.donation_id]) for g in statement.gifts}
    if any(d.status == DonationStatus.DISPUTED for d in donations.values()):
        return "frozen"  # a statement may only be corrected once every gift on it is settled
    if all(amounts[g.donation_id] == g.amount_yen for g in statement.gifts):
        return "unchanged"
    # The snapshot's lines are in (date, gift id) order; the gift rows are matched to them in the same order.
    ordered = sorted(statement.gifts, key=lambda g: (g.received_on, g.donation_id))
    kept = [g for g in ordered if amounts[g.donation_id] > 0]
    reason = REASON_PARTIAL if kept else REASON_FULL
    void_receipt(session, statement, actor, reason, notify=not kept)
    if not kept:
        return "voided"
    source = snapshot_of(statement)
    by_donation = {g.donation_id: n for n, g in enumerate(ordered)}
    lines = tuple(
        dataclasses.replace(source.lines[by_donation[g.donation_id]], amount_yen=amounts[g.donation_id]) for g in kept
    )
    total = sum(line.amount_yen for line in lines)
    settings = EstimatorSettings.from_config(current_app.config)
    issue_replacement(
        session,
        statement,
        actor,
        lines=list(lines),
        gifts=[(g.donation_id, amounts[g.donation_id], g.received_on) for g in kept],
        kind=ReceiptKind.ANNUAL_STATEMENT,
        reason=reason,
        fields={"period_year": statement.period_year},
        tax_estimate_text=build.tax_estimate_text(source.issuer.kind, source.issuer.designations, total, settings),
    )
    return "statement_replaced"


def flagged_donation_ids(session: Session) -> list[int]:
    return list(
        session.scalars(select(Donation.id).where(Donation.receipt_needs_review.is_(True)).order_by(Donation.id))
    )


def apply_refunds(session: Session, actor: Actor) -> dict[str, int]:
    """Settle every flagged gift in the caller's transaction (the job commits one gift at a time instead)."""
    counts: Counter[str] = Counter()
    for donation_id in flagged_donation_ids(session):
        counts[review_receipt_for(session, session.get(Donation, donation_id), actor)] += 1
    return dict(counts)
