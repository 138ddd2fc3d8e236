"""Refunds (payments.md RF1–RF3): however a refund starts — an administrator here, or someone in
Stripe's dashboard — its local effects come from one function fed with the charge as Stripe has
it now, so a webhook arriving after the administrator's request changes nothing.

Stripe's ``amount_refunded`` is cumulative: each call books the delta against what the donation
already records, as its own ledger group (``<charge>:refunded:<new total>``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.audit import SYSTEM, Actor
from kyodo_fund.audit.services import record
from kyodo_fund.db import utcnow
from kyodo_fund.donations.fulfilment import has_other_gift, locked, settings
from kyodo_fund.donations.models import Donation, DonationStatus
from kyodo_fund.ledger.services import post_refund
from kyodo_fund.money import parse_yen
from kyodo_fund.payments.stripe_gateway import Charge, Refund, StripeGateway

log = logging.getLogger(__name__)


class NotReady(Exception):
    """The charge belongs to a gift not recorded as paid yet: fail, so Stripe delivers it again later."""


class RefundRefused(Exception):
    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


def donation_for_charge(session: Session, charge_id: str | None, payment_intent_id: str | None) -> Donation | None:
    """The paid donation of a charge, row-locked. Raises ``NotReady`` while it is still pending."""
    donation = locked(session, select(Donation).where(Donation.stripe_charge_id == charge_id)) if charge_id else None
    if donation is not None:
        return donation
    if payment_intent_id:
        waiting = session.scalar(select(Donation.id).where(Donation.stripe_payment_intent_id == payment_intent_id))
        if waiting is not None:
            raise NotReady(f"charge {charge_id}: donation {waiting} is not paid yet")
    log.warning("charge %s matches no donation", charge_id)
    return None


def apply_charge_refunds(
    session: Session, charge: Charge, *, config: Mapping[str, Any] | None = None, actor: Actor = SYSTEM
) -> int:
    """Record what Stripe has refunded on ``charge`` beyond what we recorded; returns the new delta."""
    from kyodo_fund.projects.models import Project
    from kyodo_fund.projects.services import apply_refund

    config = settings(config)
    donation = donation_for_charge(session, charge.id, charge.payment_intent_id)
    if donation is None:
        return 0
    new_total = charge.amount_refunded_yen
    delta = new_total - donation.refunded_yen
    if delta <= 0:
        return 0  # told before (a second webhook, or the administrator's own request)
    post_refund(
        session,
        source_ref=f"{charge.id}:refunded:{new_total}",
        donation_id=donation.id,
        refund_yen=delta,
        fee_borne_by=config.get("REFUND_FEE_BORNE_BY", "fund"),
        occurred_at=utcnow(),
        memo=f"refund of donation {donation.public_id}",
        actor=actor,
    )
    before = {"status": donation.status.value, "refunded_yen": donation.refunded_yen}
    donation.refunded_yen = new_total
    donation.status = DonationStatus.REFUNDED if new_total >= donation.amount_yen else DonationStatus.PARTIALLY_REFUNDED
    # A receipt already issued now states too much: the receipts job voids or replaces it.
    donation.receipt_needs_review = True
    session.flush()
    project = session.get(Project, donation.project_id) if donation.project_id else None
    if project is not None:
        gone = donation.status == DonationStatus.REFUNDED and not has_other_gift(session, donation)
        apply_refund(session, project, delta, donor_gone=gone)
    after = {"status": donation.status.value, "refunded_yen": new_total}
    record(session, actor, "donations.refund_recorded", donation, before=before, after=after)
    return delta


def refund_donation(
    session: Session,
    gateway: StripeGateway,
    actor: Actor,
    donation: Donation,
    *,
    amount_text: str,
    reason: str,
    request_key: str,
    config: Mapping[str, Any] | None = None,
) -> Refund:
    """An administrator refunds all or part of a card gift (a reason is required, RF1)."""
    reason = (reason or "").strip()
    if not reason:
        raise RefundRefused(_l("返金の理由を入力してください。"))
    if not request_key or len(request_key) > 64:
        raise RefundRefused(_l("フォームの有効期限が切れました。もう一度開き直してください。"))
    donation = locked(session, select(Donation).where(Donation.id == donation.id))
    if not donation.stripe_charge_id or donation.refundable_yen <= 0:
        raise RefundRefused(_l("この寄附は返金できません。"))
    try:
        amount = parse_yen(amount_text)
    except ValueError as exc:
        raise RefundRefused(_l("金額は円単位の整数で入力してください。")) from exc
    if not 1 <= amount <= donation.refundable_yen:
        raise RefundRefused(_l("返金できるのは1円から%(max)s円までです。", max=f"{donation.refundable_yen:,}"))
    # Made when the form was shown: submitting that same form twice reuses the key (payments.md I1).
    key = f"refund:{donation.public_id}:{request_key}"
    refund = gateway.create_refund(
        charge_or_payment_intent=donation.stripe_charge_id,
        amount_yen=amount,
        idempotency_key=key,
        reason_metadata={"donation": donation.public_id, "reason": reason[:500]},
    )
    before = donation.refunded_yen
    apply_charge_refunds(session, gateway.retrieve_charge(donation.stripe_charge_id), config=config, actor=actor)
    record(
        session,
        actor,
        "donations.refund",
        donation,
        before={"refunded_yen": before},
        after={
            "refunded_yen": donation.refunded_yen,
            "amount_yen": amount,
            "refund": refund.id,
            "idempotency_key": key,
        },
        note=reason,
    )
    return refund
