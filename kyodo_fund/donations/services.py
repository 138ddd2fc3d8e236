"""Donor-facing reads and small services: the donor dashboard, guest gifts claimed by a confirmed
account, and the donors who receive a project's activity reports.

The money paths live next door: ``checkout`` (starting a gift), ``fulfilment`` (paid, once),
``subscriptions``, ``refunds``, ``disputes``, ``events`` (the webhook's dispatcher) and
``reconciliation`` (the daily job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from kyodo_fund.audit import SYSTEM
from kyodo_fund.audit.services import record
from kyodo_fund.db import utcnow
from kyodo_fund.donations.fulfilment import TOKYO
from kyodo_fund.donations.models import (
    COUNTED_STATUSES,
    Channel,
    Donation,
    DonationStatus,
    RecurringDonation,
    RecurringStatus,
)

#: Gifts whose money moved (possibly back again): what a confirmed account claims.
SETTLED_STATUSES = COUNTED_STATUSES | {DonationStatus.REFUNDED, DonationStatus.DISPUTE_LOST}
#: What a donor's history lists: gifts that happened, not abandoned checkouts.
HISTORY_STATUSES = frozenset(DonationStatus) - {DonationStatus.EXPIRED}


def history_query(user: Any) -> Any:
    """The user's own gifts, newest first (for ``web.paginate``)."""
    return (
        select(Donation)
        .where(Donation.user_id == user.id, Donation.status.in_(HISTORY_STATUSES))
        .options(selectinload(Donation.project))
        .order_by(Donation.created_at.desc(), Donation.id.desc())
    )


@dataclass(frozen=True)
class YearTotal:
    year: int
    total_yen: int
    count: int


def year_total(session: Session, user: Any, today: date | None = None) -> YearTotal:
    """Net of refunds, gifts received this calendar year (the tax year for individuals)."""
    today = today or utcnow().astimezone(TOKYO).date()
    total, count = session.execute(
        select(func.coalesce(func.sum(Donation.amount_yen - Donation.refunded_yen), 0), func.count(Donation.id)).where(
            Donation.user_id == user.id,
            Donation.status.in_(COUNTED_STATUSES),
            Donation.received_on >= date(today.year, 1, 1),
            Donation.received_on <= date(today.year, 12, 31),
        )
    ).one()
    return YearTotal(today.year, int(total), int(count))


def recurring_of(session: Session, user: Any) -> list[RecurringDonation]:
    return list(
        session.scalars(
            select(RecurringDonation)
            .where(RecurringDonation.user_id == user.id, RecurringDonation.status != RecurringStatus.INCOMPLETE)
            .options(selectinload(RecurringDonation.project))
            .order_by(RecurringDonation.created_at.desc(), RecurringDonation.id.desc())
        )
    )


def own_recurring(session: Session, user: Any, recurring_id: int) -> RecurringDonation | None:
    """The user's monthly gift, or None (someone else's answers 404 like a missing one)."""
    recurring = session.get(RecurringDonation, recurring_id)
    return recurring if recurring is not None and recurring.user_id == user.id else None


def own_donation(session: Session, user: Any, public_id: str) -> Donation | None:
    return session.scalar(select(Donation).where(Donation.public_id == public_id, Donation.user_id == user.id))


def online_donation(session: Session, public_id: str) -> Donation | None:
    return session.scalar(select(Donation).where(Donation.public_id == public_id, Donation.channel == Channel.ONLINE))


def claim_guest_donations(session: Session, user: Any) -> int:
    """Give a confirmed account the guest gifts made with its address; returns how many.

    Call it once the address is confirmed (``accounts.views.confirm``): only then do we know the
    gifts are this person's.
    """
    if not user.is_confirmed or not user.email:
        return 0
    email = user.email.strip().lower()
    gifts = session.execute(
        update(Donation)
        .where(
            Donation.user_id.is_(None),
            func.lower(Donation.donor_email) == email,
            Donation.status.in_(SETTLED_STATUSES),
        )
        .values(user_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(RecurringDonation)
        .where(RecurringDonation.user_id.is_(None), func.lower(RecurringDonation.donor_email) == email)
        .values(user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if gifts:
        record(session, SYSTEM, "donations.claimed", user, after={"donations": gifts})
    return gifts


def donor_recipients(session: Session, project: Any) -> list[tuple[str, str]]:
    """Each donor of the project with a counted gift, once, for activity reports (purpose of use: 活動報告の送付)."""
    rows = session.scalars(
        select(func.lower(Donation.donor_email))
        .where(
            Donation.project_id == project.id,
            Donation.status.in_({DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED}),
            Donation.donor_email != "",
        )
        .distinct()
        .order_by(func.lower(Donation.donor_email))
    )
    return [(email, "ja") for email in rows]


def named_supporters(session: Session, project_id: int, limit: int = 60) -> list[str]:
    """Names of donors who chose to be named on the project page, newest first, each once.

    Reads the newest opted-in gifts through ``ix_donations_named_supporters`` and stops early, so
    a project with tens of thousands of gifts costs the same as one with ten.
    """
    rows = session.scalars(
        select(Donation.donor_name)
        .where(
            Donation.project_id == project_id,
            Donation.public_name_opt_in,
            ~Donation.anonymous,
            Donation.donor_name != "",
            Donation.status.in_([s.value for s in COUNTED_STATUSES]),
        )
        .order_by(Donation.paid_at.desc())
        .limit(limit * 5)
    )
    return list(dict.fromkeys(rows))[:limit]
