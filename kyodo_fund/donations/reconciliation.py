"""The daily reconciliation with Stripe (payments.md §7), scheduled at 03:00 Asia/Tokyo.

Webhooks get lost (an outage, a deploy, a 500 after Stripe's three days of retries). The job
lists recent events and feeds every one not in ``stripe_events`` through the webhook's own
handler, then asks Stripe about gifts still pending. Each item runs in its own savepoint, so
one bad event is reported and the rest still land; running the job twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.db import utcnow
from kyodo_fund.donations.events import HANDLED_TYPES, handle_event
from kyodo_fund.donations.fulfilment import close_unpaid_checkout, fulfil_checkout
from kyodo_fund.donations.models import Channel, Donation, DonationStatus, PaymentMethod, StripeEvent
from kyodo_fund.payments.stripe_gateway import StripeGateway, get_gateway

log = logging.getLogger(__name__)
SOURCE = "reconciliation"


def reconcile_stripe(
    session: Session, config: Mapping[str, Any], *, gateway: StripeGateway | None = None
) -> dict[str, int]:
    """Replay missed events, then settle pending card gifts; returns the counts for the job history."""
    gateway = gateway or get_gateway(config)
    since = utcnow() - timedelta(days=int(config.get("RECONCILE_LOOKBACK_DAYS", 3)))
    counts = {"replayed": 0, "fulfilled": 0, "expired": 0, "unchanged": 0, "failed": 0}

    events = list(gateway.list_events(created_gte=since, types=HANDLED_TYPES))
    known = set(session.scalars(select(StripeEvent.id).where(StripeEvent.id.in_([e.id for e in events]))))
    # Oldest first, as they happened; each handler re-fetches its object anyway.
    for event in sorted((e for e in events if e.id not in known), key=lambda e: e.created):
        if event.livemode != gateway.livemode:
            continue
        ok, handled = _attempt(
            session,
            f"event {event.id}",
            lambda e=event: handle_event(session, gateway, e, source=SOURCE, config=config),
        )
        if not ok:
            counts["failed"] += 1
        elif handled:
            counts["replayed"] += 1

    cutoff = utcnow() - timedelta(minutes=int(config.get("RECONCILE_PENDING_AFTER_MINUTES", 60)))
    pending = session.scalars(
        select(Donation.id)
        .where(
            Donation.status == DonationStatus.PENDING,
            Donation.channel == Channel.ONLINE,
            Donation.method == PaymentMethod.CARD,
            Donation.stripe_checkout_session_id.is_not(None),
            Donation.created_at < cutoff,
        )
        .order_by(Donation.id)
    ).all()
    for donation_id in pending:
        outcome = _settle(session, gateway, donation_id, config)
        counts[outcome] += 1
    log.info("stripe reconciliation: %s", counts)
    return counts


def _settle(session: Session, gateway: StripeGateway, donation_id: int, config: Mapping[str, Any]) -> str:
    donation = session.get(Donation, donation_id)
    session_id = donation.stripe_checkout_session_id

    def settle() -> None:
        fulfil_checkout(session, gateway, session_id, source=SOURCE, config=config)
        if session.get(Donation, donation_id).status == DonationStatus.PENDING:
            close_unpaid_checkout(session, gateway, session_id, failed=False)

    if not _attempt(session, f"donation {donation.public_id}", settle)[0]:
        return "failed"
    status = session.get(Donation, donation_id).status
    if status == DonationStatus.PENDING:
        return "unchanged"
    return "expired" if status == DonationStatus.EXPIRED else "fulfilled"


def _attempt(session: Session, what: str, work: Any) -> tuple[bool, Any]:
    """``(succeeded, result)``; a failure rolls back only this item's savepoint."""
    try:
        with session.begin_nested():
            result = work()
    except Exception:
        log.exception("stripe reconciliation: %s failed", what)
        return False, None
    return True, result
