"""What a Stripe event does here: one ``match`` over the event types we act on.

``handle_event`` serves the webhook view and the daily reconciliation. It first inserts the
event id into ``stripe_events`` in the caller's transaction (payments.md W6): a replay inserts
nothing and stops; a concurrent delivery of the same event waits on that insert and then stops;
a crash rolls the id back with the effects, so Stripe's next delivery does the work again.
Every case treats the event as a notice and asks Stripe for the object's current state (O2).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.db import utcnow
from kyodo_fund.donations.disputes import close_dispute, open_dispute
from kyodo_fund.donations.fulfilment import close_unpaid_checkout, fulfil_checkout, settings
from kyodo_fund.donations.models import StripeEvent
from kyodo_fund.donations.refunds import apply_charge_refunds
from kyodo_fund.donations.subscriptions import record_failed_invoice, record_paid_invoice, sync_subscription_event
from kyodo_fund.payments.stripe_gateway import StripeGateway, WebhookEvent

log = logging.getLogger(__name__)

#: The types the platform acts on; the reconciliation asks Stripe for these (at most 20).
HANDLED_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice.payment_failed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "charge.dispute.created",
    "charge.dispute.closed",
)


def record_event(session: Session, event: WebhookEvent, source: str) -> bool:
    """Insert the event id; False when it was there already (a replay)."""
    values = {"id": event.id, "type": event.type, "created": event.created, "source": source, "received_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(StripeEvent.__table__).values(**values).on_conflict_do_nothing(index_elements=["id"])
        # RETURNING says whether this transaction inserted it (rowcount is not reliable here).
        return session.execute(stmt.returning(StripeEvent.__table__.c.id)).first() is not None
    try:
        with session.begin_nested():
            session.execute(insert(StripeEvent).values(**values))
    except IntegrityError:
        return False
    return True


def handle_event(
    session: Session,
    gateway: StripeGateway,
    event: WebhookEvent,
    *,
    source: str,
    config: Mapping[str, Any] | None = None,
) -> bool:
    """Apply ``event`` once; returns False for an event seen before. The caller commits or rolls back."""
    config = settings(config)
    if not record_event(session, event, source):
        log.info("stripe event %s (%s) seen before; ignored", event.id, event.type)
        return False
    obj = event.data_object
    match event.type:
        case "checkout.session.completed":
            # The donor finished Checkout: paid by card, or a konbini voucher issued (unpaid: stays pending).
            fulfil_checkout(session, gateway, event.object_id, source=source, config=config)
        case "checkout.session.async_payment_succeeded":
            # A delayed method (konbini, bank transfer) was paid after Checkout completed.
            fulfil_checkout(session, gateway, event.object_id, source=source, config=config)
        case "checkout.session.async_payment_failed":
            # The delayed payment did not arrive in time (voucher expired, transfer missing).
            close_unpaid_checkout(session, gateway, event.object_id, failed=True)
        case "checkout.session.expired":
            # The donor left Checkout without paying; after 24 h (or an explicit expire) the session ends.
            close_unpaid_checkout(session, gateway, event.object_id, failed=False)
        case "invoice.paid" | "invoice.payment_succeeded":
            # A subscription invoice was paid: the first one at Checkout, then one per month.
            # Stripe sends both types for the same invoice; the invoice id makes them one gift.
            record_paid_invoice(session, gateway, event.object_id, source=source, config=config)
        case "invoice.payment_failed":
            # A monthly charge was declined; Stripe retries on its schedule (the subscription turns past_due).
            record_failed_invoice(session, gateway, event.object_id)
        case "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted":
            # The subscription started, changed (amount, status, cancel_at_period_end) or ended.
            sync_subscription_event(session, gateway, event)
        case "charge.refunded":
            # A refund on the charge, from our admin page or Stripe's dashboard; amount_refunded is cumulative.
            apply_charge_refunds(session, gateway.retrieve_charge(event.object_id), config=config)
        case "refund.created" | "refund.updated":
            # Sent for every refund since API 2024-10-28, alongside charge.refunded: same effect, once.
            if charge_id := _charge_of(obj):
                apply_charge_refunds(session, gateway.retrieve_charge(charge_id), config=config)
        case "charge.dispute.created":
            # The cardholder disputed the charge with their bank.
            open_dispute(session, gateway, event.object_id, config=config)
        case "charge.dispute.closed":
            # The bank decided the dispute: won (money returns) or lost.
            close_dispute(session, gateway, event.object_id, config=config)
        case _:
            log.info("stripe event %s of type %s ignored", event.id, event.type)
    session.flush()
    return True


def _charge_of(obj: Mapping[str, Any]) -> str | None:
    charge = obj.get("charge")
    return charge.get("id") if isinstance(charge, Mapping) else charge
