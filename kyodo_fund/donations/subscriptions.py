"""Monthly giving: paid invoices become Donations, subscription events update the local record,
and donors stop or change their monthly gift.

Every invoice is keyed by its id (``Donation.stripe_invoice_id`` is unique). Work on one
subscription is serialised by locking its RecurringDonation row first, then a donation row
(the same order everywhere, so two handlers cannot deadlock). Subscription events are notices:
the subscription is fetched again and its current state applied (payments.md O2).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.db import utcnow
from kyodo_fund.donations.checkout import check_amount
from kyodo_fund.donations.fulfilment import locked, mark_paid, settings
from kyodo_fund.donations.models import (
    Channel,
    Donation,
    DonationKind,
    DonationStatus,
    PaymentMethod,
    RecurringDonation,
    RecurringStatus,
)
from kyodo_fund.notifications.services import queue_email
from kyodo_fund.payments.stripe_gateway import NotFound, StripeGateway, Subscription, WebhookEvent

log = logging.getLogger(__name__)

_STATUS = {
    "incomplete": RecurringStatus.INCOMPLETE,
    "trialing": RecurringStatus.ACTIVE,
    "active": RecurringStatus.ACTIVE,
    "past_due": RecurringStatus.PAST_DUE,
    "unpaid": RecurringStatus.PAST_DUE,
    "paused": RecurringStatus.PAST_DUE,
    "canceled": RecurringStatus.CANCELED,
    "incomplete_expired": RecurringStatus.CANCELED,
}
_DONOR_FIELDS = ("donor_name", "donor_kana", "donor_postal_code", "donor_address", "donor_email", "donor_phone")


class RecurringError(Exception):
    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def record_paid_invoice(
    session: Session,
    gateway: StripeGateway,
    invoice_id: str,
    *,
    source: str,
    config: Mapping[str, Any] | None = None,
) -> Donation | None:
    """One paid invoice → one paid Donation; the first one fills in the gift started on Checkout."""
    config = settings(config)
    invoice = gateway.retrieve_invoice(invoice_id)
    if invoice.status != "paid" or not invoice.subscription_id:
        return None
    by_invoice = select(Donation).where(Donation.stripe_invoice_id == invoice.id)
    existing = session.scalar(by_invoice)
    if existing is not None and existing.status != DonationStatus.PENDING:
        return existing
    subscription = gateway.retrieve_subscription(invoice.subscription_id)
    charge = gateway.retrieve_charge(invoice.charge_id) if invoice.charge_id else None
    recurring = lock_recurring(session, subscription, create_for_email=invoice.customer_email or "")
    apply_subscription(recurring, subscription)
    donation = locked(session, by_invoice) or _claim_first_instalment(session, recurring, subscription, invoice.id)
    if donation is None:
        donation = _new_instalment(session, recurring, invoice.id, invoice.amount_paid_yen)
    if donation.status != DonationStatus.PENDING:
        return donation
    paid_at = invoice.paid_at or (charge.created_at if charge else None) or utcnow()
    mark_paid(
        session,
        donation,
        amount_yen=invoice.amount_paid_yen,
        charge=charge,
        payment_intent_id=invoice.payment_intent_id,
        invoice_id=invoice.id,
        paid_at=paid_at,
        source=source,
        config=config,
        subscription=True,
    )
    return donation


def lock_recurring(
    session: Session, subscription: Subscription, *, create_for_email: str | None = None
) -> RecurringDonation | None:
    """The local record of ``subscription``, row-locked; linked through the metadata set on Checkout.

    With ``create_for_email`` (an invoice arrived first and nothing is known locally), a record
    is built from Stripe's data rather than dropping the payment.
    """
    found = locked(
        session, select(RecurringDonation).where(RecurringDonation.stripe_subscription_id == subscription.id)
    )
    if found is not None:
        return found
    local_id = subscription.metadata.get("recurring", "")
    if local_id.isdigit():
        found = locked(
            session,
            select(RecurringDonation).where(
                RecurringDonation.id == int(local_id),
                RecurringDonation.stripe_subscription_id.is_(None)
                | (RecurringDonation.stripe_subscription_id == subscription.id),
            ),
        )
        if found is not None:
            found.stripe_subscription_id = subscription.id
            found.stripe_customer_id = subscription.customer_id
            session.flush()
            return found
    if create_for_email is None:
        return None
    return _create_from_stripe(session, subscription, create_for_email)


def _create_from_stripe(session: Session, subscription: Subscription, email: str) -> RecurringDonation:
    from kyodo_fund.projects.models import Project

    project_ref = subscription.metadata.get("project", "")
    project_id = int(project_ref) if project_ref.isdigit() and session.get(Project, int(project_ref)) else None
    recurring = RecurringDonation(
        project_id=project_id,
        amount_yen=subscription.amount_yen,
        stripe_subscription_id=subscription.id,
        stripe_customer_id=subscription.customer_id,
        donor_email=email.lower(),
    )
    try:
        with session.begin_nested():
            session.add(recurring)
    except IntegrityError:
        stmt = select(RecurringDonation).where(RecurringDonation.stripe_subscription_id == subscription.id)
        return locked(session, stmt)
    log.warning("subscription %s had no local record; created %s from Stripe", subscription.id, recurring.id)
    return locked(session, select(RecurringDonation).where(RecurringDonation.id == recurring.id))


def _claim_first_instalment(
    session: Session, recurring: RecurringDonation, subscription: Subscription, invoice_id: str
) -> Donation | None:
    stmt = select(Donation).where(
        Donation.recurring_id == recurring.id,
        Donation.status == DonationStatus.PENDING,
        Donation.stripe_invoice_id.is_(None),
    )
    if public_id := subscription.metadata.get("donation"):
        stmt = stmt.where(Donation.public_id == public_id)
    donation = locked(session, stmt.order_by(Donation.id))
    if donation is not None:
        donation.stripe_invoice_id = invoice_id
    return donation


def _new_instalment(session: Session, recurring: RecurringDonation, invoice_id: str, amount_yen: int) -> Donation:
    donation = Donation(
        public_id=uuid.uuid4().hex,
        project_id=recurring.project_id,
        user_id=recurring.user_id,
        recurring=recurring,
        kind=DonationKind.MONTHLY,
        channel=Channel.ONLINE,
        method=PaymentMethod.CARD,
        status=DonationStatus.PENDING,
        amount_yen=amount_yen,
        receipt_preference=recurring.receipt_preference,
        public_name_opt_in=recurring.public_name_opt_in,
        stripe_invoice_id=invoice_id,
        **{name: getattr(recurring, name) for name in _DONOR_FIELDS},
    )
    session.add(donation)
    session.flush()  # the recurring row lock already keeps a second handler of this invoice out
    return donation


def apply_subscription(
    recurring: RecurringDonation, subscription: Subscription, event_created: int | None = None
) -> bool:
    """Copy Stripe's current state onto the local record; an event older than the last applied one is skipped."""
    if event_created is not None and event_created < recurring.last_event_created:
        return False
    status = _STATUS.get(subscription.status)
    if status is None:
        log.warning("subscription %s has unknown status %r", subscription.id, subscription.status)
    else:
        recurring.status = status
    if subscription.amount_yen > 0:
        recurring.amount_yen = subscription.amount_yen
    recurring.current_period_end_at = subscription.current_period_end_at
    recurring.cancel_at_period_end = subscription.cancel_at_period_end
    recurring.canceled_at = subscription.canceled_at
    recurring.stripe_customer_id = subscription.customer_id or recurring.stripe_customer_id
    if event_created is not None:
        recurring.last_event_created = event_created
    return True


def sync_subscription_event(session: Session, gateway: StripeGateway, event: WebhookEvent) -> RecurringDonation | None:
    """``customer.subscription.*``: re-fetch the subscription and apply it if the event is not older."""
    try:
        subscription = gateway.retrieve_subscription(event.object_id or "")
    except NotFound:
        log.warning("event %s: subscription %s is gone", event.id, event.object_id)
        return None
    recurring = lock_recurring(session, subscription)
    if recurring is None:
        # Checkout not completed here yet: its first invoice will link or create the record.
        log.info("event %s: no local record for subscription %s yet", event.id, subscription.id)
        return None
    apply_subscription(recurring, subscription, event.created)
    return recurring


def record_failed_invoice(session: Session, gateway: StripeGateway, invoice_id: str) -> RecurringDonation | None:
    """``invoice.payment_failed``: refresh the subscription and tell the donor, once per invoice."""
    invoice = gateway.retrieve_invoice(invoice_id)
    if not invoice.subscription_id:
        return None
    subscription = gateway.retrieve_subscription(invoice.subscription_id)
    recurring = lock_recurring(session, subscription)
    if recurring is None:
        return None
    apply_subscription(recurring, subscription)
    email = recurring.donor_email or invoice.customer_email
    if email:
        queue_email(
            session,
            "donation_payment_failed",
            to=email,
            context={"recurring": recurring, "amount_yen": invoice.amount_due_yen},
            dedupe_key=f"invoice_failed:{invoice.id}",
        )
    return recurring


def cancel_recurring(session: Session, gateway: StripeGateway, actor: Actor, recurring: RecurringDonation) -> None:
    """Stop monthly giving: no charge after the period already paid for."""
    if recurring.status == RecurringStatus.CANCELED or recurring.cancel_at_period_end:
        return
    before = {"status": recurring.status.value, "cancel_at_period_end": recurring.cancel_at_period_end}
    if recurring.stripe_subscription_id is None:
        recurring.status = RecurringStatus.CANCELED  # Checkout never completed: nothing to stop on Stripe
        recurring.canceled_at = utcnow()
    else:
        subscription = gateway.cancel_subscription(
            recurring.stripe_subscription_id,
            idempotency_key=f"cancel:{recurring.id}:{uuid.uuid4()}",
            at_period_end=True,
        )
        apply_subscription(recurring, subscription)
    session.flush()
    after = {"status": recurring.status.value, "cancel_at_period_end": recurring.cancel_at_period_end}
    record(session, actor, "donations.recurring_cancel", recurring, before=before, after=after)


def change_recurring_amount(
    session: Session,
    gateway: StripeGateway,
    actor: Actor,
    recurring: RecurringDonation,
    amount_yen: int,
    config: Mapping[str, Any],
) -> None:
    """Bill ``amount_yen`` from the next month on (validated like a new gift)."""
    check_amount(amount_yen, config)
    if recurring.status not in (RecurringStatus.ACTIVE, RecurringStatus.PAST_DUE) or recurring.cancel_at_period_end:
        raise RecurringError(_l("停止済み・手続き中の毎月の寄附は金額を変更できません。"))
    if amount_yen == recurring.amount_yen:
        return
    before = recurring.amount_yen
    subscription = gateway.update_subscription_amount(
        recurring.stripe_subscription_id, amount_yen=amount_yen, idempotency_key=f"amount:{recurring.id}:{uuid.uuid4()}"
    )
    apply_subscription(recurring, subscription)
    session.flush()
    record(
        session,
        actor,
        "donations.recurring_amount",
        recurring,
        before={"amount_yen": before},
        after={"amount_yen": amount_yen},
    )


def stop_for_dispute(session: Session, gateway: StripeGateway, recurring: RecurringDonation | None) -> None:
    """A disputed instalment ends the monthly gift at once (payments.md DS1)."""
    if recurring is None or recurring.status == RecurringStatus.CANCELED or not recurring.stripe_subscription_id:
        return
    from kyodo_fund.payments.stripe_gateway import GatewayError

    try:
        subscription = gateway.cancel_subscription(
            recurring.stripe_subscription_id, idempotency_key=f"dispute-cancel:{recurring.id}"
        )
    except GatewayError as exc:
        log.warning("could not cancel subscription %s after a dispute: %s", recurring.stripe_subscription_id, exc)
        return
    apply_subscription(recurring, subscription)
    session.flush()
