"""Turning a paid Checkout Session or invoice into a paid Donation, exactly once (payments.md F1–F2).

``fulfil_checkout`` serves the success page, the webhook and the reconciliation alike. It asks
Stripe for the session (query parameters and event bodies are only notices), locks the donation
row and moves it from pending to paid once; whoever comes second finds it paid and does nothing.
``mark_paid`` is the one place where a paid gift reaches the ledger, the project's counters and
the thank-you mail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from kyodo_fund.audit import SYSTEM
from kyodo_fund.audit.services import record
from kyodo_fund.db import utcnow
from kyodo_fund.donations.models import COUNTED_STATUSES, Donation, DonationStatus, RecurringStatus
from kyodo_fund.ledger.services import post_donation
from kyodo_fund.money import percent_of
from kyodo_fund.notifications.services import queue_email
from kyodo_fund.payments.stripe_gateway import Charge, CheckoutMode, StripeGateway

log = logging.getLogger(__name__)
TOKYO = ZoneInfo("Asia/Tokyo")


def settings(config: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return current_app.config if config is None else config


def locked(session: Session, stmt: Any) -> Any:
    """The first row of ``stmt``, locked for this transaction and re-read (not the identity map's copy)."""
    return session.scalar(stmt.with_for_update().execution_options(populate_existing=True))


def fulfil_checkout(
    session: Session,
    gateway: StripeGateway,
    checkout_session_id: str,
    *,
    source: str,
    config: Mapping[str, Any] | None = None,
) -> Donation | None:
    """Fulfil the gift behind a Checkout Session if Stripe says it is paid; returns its donation."""
    config = settings(config)
    checkout = gateway.retrieve_checkout_session(checkout_session_id)
    if not checkout.is_paid:
        # Still open, or completed with a konbini / bank-transfer voucher that is not paid yet (A1).
        return None
    if checkout.mode == CheckoutMode.SUBSCRIPTION:
        from kyodo_fund.donations.subscriptions import record_paid_invoice

        if not checkout.invoice_id:
            log.warning("paid subscription session %s has no invoice", checkout.id)
            return None
        return record_paid_invoice(session, gateway, checkout.invoice_id, source=source, config=config)

    by_session = select(Donation).where(Donation.stripe_checkout_session_id == checkout.id)
    donation = session.scalar(by_session)
    if donation is None:
        log.error("paid checkout session %s matches no donation (metadata %s)", checkout.id, checkout.metadata)
        return None
    if donation.status != DonationStatus.PENDING:
        return donation  # fulfilled before: nothing to ask Stripe
    intent = gateway.retrieve_payment_intent(checkout.payment_intent_id) if checkout.payment_intent_id else None
    charge = gateway.retrieve_charge(intent.charge_id) if intent and intent.charge_id else None
    # Only now, with Stripe's answers in hand, take the row lock: a concurrent caller waits here
    # and then sees the donation paid.
    donation = locked(session, by_session)
    if donation.status != DonationStatus.PENDING:
        return donation
    mark_paid(
        session,
        donation,
        amount_yen=checkout.amount_total_yen,
        charge=charge,
        payment_intent_id=checkout.payment_intent_id,
        paid_at=charge.created_at if charge else utcnow(),
        source=source,
        config=config,
    )
    return donation


def estimate_fee(amount_yen: int, config: Mapping[str, Any], *, subscription: bool = False) -> int:
    rate = float(config["FEE_ESTIMATE_PCT"])
    if subscription:
        rate += float(config.get("FEE_ESTIMATE_SUBSCRIPTION_EXTRA_PCT", 0))
    return percent_of(amount_yen, rate)


def mark_paid(
    session: Session,
    donation: Donation,
    *,
    amount_yen: int,
    charge: Charge | None,
    payment_intent_id: str | None,
    paid_at: datetime,
    source: str,
    config: Mapping[str, Any],
    invoice_id: str | None = None,
    subscription: bool = False,
) -> None:
    """pending → paid, with the ledger group, the project's counters and the thank-you mail.

    The caller holds the donation's row lock and has checked it is pending.
    """
    from kyodo_fund.projects.models import Project
    from kyodo_fund.projects.services import apply_gift

    if amount_yen != donation.amount_yen:
        # What Stripe charged is what the fund received; the form's amount was only the request.
        log.error("donation %s: Stripe charged ¥%s, not ¥%s", donation.public_id, amount_yen, donation.amount_yen)
        donation.amount_yen = amount_yen
    fee = charge.fee_yen if charge is not None and charge.fee_yen is not None else None
    if fee is None:
        fee = estimate_fee(amount_yen, config, subscription=subscription)
    new_donor = not has_other_gift(session, donation)
    donation.status = DonationStatus.PAID
    donation.paid_at = paid_at
    donation.received_on = paid_at.astimezone(TOKYO).date()
    donation.processor_fee_yen = fee
    donation.platform_fee_yen = percent_of(amount_yen, config["PLATFORM_FEE_PCT"])
    donation.stripe_payment_intent_id = payment_intent_id or donation.stripe_payment_intent_id
    donation.stripe_charge_id = charge.id if charge is not None else donation.stripe_charge_id
    donation.stripe_invoice_id = invoice_id or donation.stripe_invoice_id
    if donation.recurring is not None and donation.recurring.status == RecurringStatus.INCOMPLETE:
        donation.recurring.status = RecurringStatus.ACTIVE
    session.flush()
    post_donation(
        session,
        # The charge is the business key Stripe's refunds and disputes point at (payments.md W9).
        source_ref=donation.stripe_charge_id or invoice_id or payment_intent_id or f"donation:{donation.id}",
        project_id=donation.project_id,
        gross_yen=amount_yen,
        processor_fee_yen=fee,
        platform_fee_pct=config["PLATFORM_FEE_PCT"],
        donation_id=donation.id,
        occurred_at=paid_at,
        memo=f"donation {donation.public_id} ({source})",
    )
    project = session.get(Project, donation.project_id) if donation.project_id else None
    if project is not None:
        apply_gift(session, project, amount_yen, new_donor=new_donor)
    record(
        session,
        SYSTEM,
        "donations.paid",
        donation,
        before={"status": DonationStatus.PENDING.value},
        after={"status": "paid", "amount_yen": amount_yen, "processor_fee_yen": fee, "source": source},
    )
    queue_thanks(session, donation, project)


def has_other_gift(session: Session, donation: Donation) -> bool:
    """Whether the donor already has a counted gift to the same project (for its donor count)."""
    if donation.project_id is None:
        return False
    same_donor = []
    if donation.user_id is not None:
        same_donor.append(Donation.user_id == donation.user_id)
    if donation.donor_email:
        same_donor.append(func.lower(Donation.donor_email) == donation.donor_email.lower())
    if not same_donor:
        return False
    stmt = select(Donation.id).where(
        Donation.project_id == donation.project_id,
        Donation.id != donation.id,
        Donation.status.in_(COUNTED_STATUSES),
        or_(*same_donor),
    )
    return session.scalar(stmt.limit(1)) is not None


def queue_thanks(session: Session, donation: Donation, project: Any) -> None:
    if not donation.donor_email:
        return
    queue_email(
        session,
        "donation_thanks",
        to=donation.donor_email,
        locale=donation.user.locale if donation.user is not None else "ja",
        context={"donation": donation, "project": project},
        # Keyed by the gift, so the success page, the webhook and the reconciliation send one mail (W10).
        dedupe_key=f"thanks:{donation.id}",
    )


def close_unpaid_checkout(
    session: Session, gateway: StripeGateway, checkout_session_id: str, *, failed: bool
) -> Donation | None:
    """The gift will not be paid: the session expired, or a konbini / transfer payment failed (A1)."""
    checkout = gateway.retrieve_checkout_session(checkout_session_id)
    if checkout.is_paid or (not failed and checkout.status != "expired"):
        return None
    donation = locked(session, select(Donation).where(Donation.stripe_checkout_session_id == checkout.id))
    if donation is None or donation.status != DonationStatus.PENDING:
        return donation
    donation.status = DonationStatus.FAILED if failed else DonationStatus.EXPIRED
    if donation.recurring is not None and donation.recurring.status == RecurringStatus.INCOMPLETE:
        donation.recurring.status = RecurringStatus.CANCELED
        donation.recurring.canceled_at = utcnow()
    session.flush()
    record(
        session,
        SYSTEM,
        "donations.unpaid",
        donation,
        before={"status": "pending"},
        after={"status": donation.status.value},
    )
    if failed and donation.donor_email:
        queue_email(
            session,
            "donation_failed",
            to=donation.donor_email,
            locale=donation.user.locale if donation.user is not None else "ja",
            context={"donation": donation, "project": donation.project},
            dedupe_key=f"failed:{donation.id}",
        )
    return donation
