"""Scheduled (``jobs/schedule.py``): the receipts job every minute, the annual statements from STATEMENTS_RUN_ON.

These are the edge: each receipt is committed on its own, so a crash half-way loses nothing already issued and
the rerun picks up exactly the gifts still without one (the partial unique indexes on originals and on the gifts
in force make a second issue impossible even with two runners).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.audit import SYSTEM
from kyodo_fund.donations.models import Donation, ReceiptPreference
from kyodo_fund.receipts.models import ReceiptedGift
from kyodo_fund.receipts.refunds import flagged_donation_ids, review_receipt_for
from kyodo_fund.receipts.services import (
    RECEIPTABLE_STATUSES,
    NotReceiptable,
    ReceiptDataMissing,
    hold_for_missing_data,
    issue_receipt,
    today_in_tokyo,
)
from kyodo_fund.receipts.statements import issue_annual, preflight_annual

BATCH = 200


def due_receipts_query():
    """Paid per-donation gifts that no document has ever covered, oldest first."""
    return (
        select(Donation.id)
        .where(
            Donation.status.in_(RECEIPTABLE_STATUSES),
            Donation.receipt_preference == ReceiptPreference.PER_DONATION,
            Donation.anonymous.is_(False),
            Donation.amount_yen > Donation.refunded_yen,
            Donation.receipt_needs_review.is_(False),
            ~exists().where(ReceiptedGift.donation_id == Donation.id),
        )
        .order_by(Donation.id)
    )


def _issue_one(session: Session, donation_id: int) -> str:
    try:
        issue_receipt(session, session.get(Donation, donation_id), SYSTEM)
    except ReceiptDataMissing as exc:
        session.rollback()
        hold_for_missing_data(session, [donation_id], exc.problems, "receipt")
        session.commit()
        return "needs_data"
    except (NotReceiptable, IntegrityError):  # changed meanwhile, or another runner was first
        session.rollback()
        return "skipped"
    session.commit()
    return "issued"


def issue_due_receipts(session: Session, config: Mapping[str, Any]) -> dict:
    """Settle refund/dispute flags, then issue every due receipt, one transaction each."""
    counts: Counter[str] = Counter()
    for donation_id in flagged_donation_ids(session):
        counts[f"refund_{review_receipt_for(session, session.get(Donation, donation_id), SYSTEM)}"] += 1
        session.commit()
    last_id = 0
    while ids := list(session.scalars(due_receipts_query().where(Donation.id > last_id).limit(BATCH))):
        for donation_id in ids:
            counts[_issue_one(session, donation_id)] += 1
        last_id = ids[-1]
    return dict(counts)


def statements_due_year(config: Mapping[str, Any], today: date) -> int | None:
    """The year whose statements are due today: the previous one, from STATEMENTS_RUN_ON for the catch-up days."""
    month, day = (int(part) for part in config["STATEMENTS_RUN_ON"].split("-"))
    run_on = date(today.year, month, day)
    if run_on <= today <= run_on + timedelta(days=config["STATEMENTS_CATCH_UP_DAYS"]):
        return today.year - 1
    return None


def run_annual_statements(session: Session, config: Mapping[str, Any]) -> dict:
    year = statements_due_year(config, today_in_tokyo())
    if year is None:
        return {"not_due": 1}
    plan = preflight_annual(session, year)
    session.rollback()  # the preflight only read; end its transaction before the long issuing pass
    return {"year": year, **issue_annual(session, plan, SYSTEM).as_counts()}
