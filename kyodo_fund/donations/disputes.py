"""Card disputes (chargebacks, payments.md DS1–DS3).

Opened: the money goes into ``disputes:held``, the donation is ``disputed`` (its receipt frozen),
a monthly gift stops, administrators are told. Closed won: the hold is undone and the donation
is as before. Closed lost: the money and Stripe's dispute fee leave the fund, the receipt is to
be voided. The dispute is fetched from Stripe every time; a ``closed`` seen before ``created``
holds first, then closes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.accounts.models import User, UserRole
from kyodo_fund.audit import SYSTEM
from kyodo_fund.audit.services import record
from kyodo_fund.donations.fulfilment import has_other_gift, settings
from kyodo_fund.donations.models import Donation, DonationStatus
from kyodo_fund.donations.refunds import donation_for_charge
from kyodo_fund.donations.subscriptions import stop_for_dispute
from kyodo_fund.ledger.services import post_dispute_hold, post_dispute_release, post_dispute_reverse
from kyodo_fund.notifications.services import queue_email
from kyodo_fund.payments.stripe_gateway import Dispute, StripeGateway

log = logging.getLogger(__name__)


def _held_yen(donation: Donation, dispute: Dispute) -> int:
    # Stripe disputes at most what was not refunded; never hold more than the gift has left.
    return min(dispute.amount_yen, donation.amount_yen - donation.refunded_yen)


def open_dispute(
    session: Session, gateway: StripeGateway, dispute_id: str, *, config: Mapping[str, Any] | None = None
) -> Donation | None:
    dispute = gateway.retrieve_dispute(dispute_id)
    donation = donation_for_charge(session, dispute.charge_id, dispute.payment_intent_id)
    if donation is None:
        return None
    return _hold(session, gateway, donation, dispute)


def _hold(session: Session, gateway: StripeGateway, donation: Donation, dispute: Dispute) -> Donation:
    if _held_yen(donation, dispute) <= 0:
        log.warning("dispute %s on donation %s: nothing left to hold", dispute.id, donation.public_id)
        return donation
    group = post_dispute_hold(
        session,
        dispute_ref=dispute.id,
        donation_id=donation.id,
        amount_yen=_held_yen(donation, dispute),
        occurred_at=dispute.created_at,
        memo=f"dispute on donation {donation.public_id}: {dispute.reason or ''}",
    )
    if group is None:
        return donation  # held before
    before = donation.status.value
    donation.status = DonationStatus.DISPUTED
    session.flush()
    stop_for_dispute(session, gateway, donation.recurring)
    record(
        session,
        SYSTEM,
        "donations.dispute_opened",
        donation,
        before={"status": before},
        after={"status": donation.status.value, "dispute": dispute.id, "amount_yen": dispute.amount_yen},
    )
    admins = session.scalars(
        select(User).where(User.role == UserRole.ADMIN, User.is_active_account.is_(True)).order_by(User.id)
    )
    for admin in admins:
        queue_email(
            session,
            "donation_dispute_alert",
            to=admin.email,
            locale=admin.locale,
            context={"donation": donation, "dispute": dispute},
            dedupe_key=f"dispute:{dispute.id}:{admin.id}",
        )
    return donation


def close_dispute(
    session: Session, gateway: StripeGateway, dispute_id: str, *, config: Mapping[str, Any] | None = None
) -> Donation | None:
    from kyodo_fund.projects.models import Project
    from kyodo_fund.projects.services import apply_refund

    config = settings(config)
    dispute = gateway.retrieve_dispute(dispute_id)
    if dispute.status not in ("won", "lost"):
        log.info("dispute %s is %s, not closed", dispute.id, dispute.status)
        return None
    donation = donation_for_charge(session, dispute.charge_id, dispute.payment_intent_id)
    if donation is None:
        return None
    if _held_yen(donation, dispute) <= 0:
        log.warning(
            "dispute %s closed %s on donation %s with nothing held", dispute.id, dispute.status, donation.public_id
        )
        return donation
    _hold(session, gateway, donation, dispute)
    before = donation.status.value
    if dispute.status == "won":
        if post_dispute_release(session, dispute_ref=dispute.id, occurred_at=None) is None:
            return donation
        donation.status = DonationStatus.PARTIALLY_REFUNDED if donation.refunded_yen else DonationStatus.PAID
    else:
        held = _held_yen(donation, dispute)
        if (
            post_dispute_reverse(session, dispute_ref=dispute.id, dispute_fee_yen=int(config["DISPUTE_FEE_YEN"]))
            is None
        ):
            return donation
        donation.status = DonationStatus.DISPUTE_LOST
        donation.receipt_needs_review = True
        session.flush()
        project = session.get(Project, donation.project_id) if donation.project_id else None
        if project is not None:
            apply_refund(session, project, held, donor_gone=not has_other_gift(session, donation))
    session.flush()
    record(
        session,
        SYSTEM,
        f"donations.dispute_{dispute.status}",
        donation,
        before={"status": before},
        after={"status": donation.status.value, "dispute": dispute.id},
    )
    return donation
