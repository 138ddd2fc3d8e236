"""Starting a gift: the pending Donation (and, for monthly giving, its RecurringDonation) and the
Stripe Checkout Session the donor is sent to.

Monthly giving creates the first instalment as a pending Donation here, with the session id;
the first paid invoice fills it in (``subscriptions.record_paid_invoice``) instead of adding a
second one, and every later invoice adds its own Donation.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.donations.models import (
    Channel,
    Donation,
    DonationKind,
    DonationStatus,
    PaymentMethod,
    ReceiptPreference,
    RecurringDonation,
    RecurringStatus,
)
from kyodo_fund.money import parse_yen
from kyodo_fund.payments.stripe_gateway import CheckoutMode, GatewayError, StripeGateway


class AmountError(ValueError):
    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class CheckoutUnavailable(Exception):
    """Stripe refused or could not be reached; nothing was charged."""


def parse_amount(text: str | None, config: Mapping[str, Any]) -> int:
    """A gift amount typed by a person: whole yen within the configured bounds (payments.md §2)."""
    try:
        amount = parse_yen(text or "")
    except ValueError as exc:
        raise AmountError(_l("金額は円単位の整数（例: 3000）で入力してください。")) from exc
    check_amount(amount, config)
    return amount


def check_amount(amount: int, config: Mapping[str, Any]) -> None:
    minimum, maximum = int(config["DONATION_MIN_AMOUNT_YEN"]), int(config["DONATION_MAX_AMOUNT_YEN"])
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise AmountError(_l("金額は円単位の整数（例: 3000）で入力してください。"))
    if amount < minimum:
        raise AmountError(_l("寄附は%(min)s円以上でお願いします。", min=f"{minimum:,}"))
    if amount > maximum:
        raise AmountError(_l("一度に寄附できる金額は%(max)s円までです。", max=f"{maximum:,}"))


@dataclass(frozen=True)
class Gift:
    amount_yen: int
    monthly: bool
    name: str
    kana: str
    postal_code: str
    address: str
    email: str
    phone: str = ""
    #: None: per gift for one-off giving, once a year for monthly giving.
    receipt_preference: ReceiptPreference | None = None
    public_name_opt_in: bool = False
    message: str = ""
    locale: str = "ja"

    @property
    def receipt(self) -> ReceiptPreference:
        if self.receipt_preference is not None:
            return ReceiptPreference(self.receipt_preference)
        return ReceiptPreference.ANNUAL if self.monthly else ReceiptPreference.PER_DONATION

    def donor_fields(self) -> dict[str, str]:
        return {
            "donor_name": self.name,
            "donor_kana": self.kana,
            "donor_postal_code": self.postal_code,
            "donor_address": self.address,
            "donor_email": self.email.strip().lower(),
            "donor_phone": self.phone,
        }


def start_checkout(
    session: Session,
    gateway: StripeGateway,
    actor: Actor,
    project: Any,
    gift: Gift,
    *,
    success_url: Callable[[str], str],
    cancel_url: str,
    config: Mapping[str, Any],
) -> tuple[Donation, str]:
    """Record the pending gift and open its Checkout Session; returns the donation and the session URL.

    Raises ``AmountError`` or ``CheckoutUnavailable``; the caller rolls back after either.
    """
    check_amount(gift.amount_yen, config)
    # Only a confirmed account owns the gift now; otherwise it is claimed once the address is confirmed.
    user = actor.user if actor.user is not None and actor.user.is_confirmed else None
    common = {
        "project_id": project.id,
        "user_id": user.id if user else None,
        "amount_yen": gift.amount_yen,
        "receipt_preference": gift.receipt,
        "public_name_opt_in": gift.public_name_opt_in,
        "message": gift.message,
        **gift.donor_fields(),
    }
    donation = Donation(
        public_id=uuid.uuid4().hex,
        kind=DonationKind.MONTHLY if gift.monthly else DonationKind.ONE_OFF,
        channel=Channel.ONLINE,
        method=PaymentMethod.CARD,
        status=DonationStatus.PENDING,
        # Created before the first attempt, so the SDK's own retries reuse it (payments.md I1).
        idempotency_key=str(uuid.uuid4()),
        **common,
    )
    metadata = {"donation": donation.public_id, "project": str(project.id)}
    if gift.monthly:
        donation.recurring = RecurringDonation(status=RecurringStatus.INCOMPLETE, **common)
    session.add(donation)
    session.flush()
    if donation.recurring is not None:
        metadata["recurring"] = str(donation.recurring.id)
    try:
        checkout = gateway.create_checkout_session(
            amount_yen=gift.amount_yen,
            mode=CheckoutMode.SUBSCRIPTION if gift.monthly else CheckoutMode.PAYMENT,
            product_name=_("「%(title)s」への寄附", title=project.title)[:250],
            success_url=success_url(donation.public_id),
            cancel_url=cancel_url,
            customer_email=donation.donor_email or None,
            metadata=metadata,
            idempotency_key=donation.idempotency_key,
            client_reference_id=donation.public_id,
            locale="en" if gift.locale == "en" else "ja",
        )
    except GatewayError as exc:
        raise CheckoutUnavailable(exc.message) from exc
    donation.stripe_checkout_session_id = checkout.id
    session.flush()
    record(
        session,
        actor,
        "donations.checkout_started",
        donation,
        after={"amount_yen": gift.amount_yen, "kind": donation.kind.value, "checkout_session": checkout.id},
    )
    return donation, checkout.url or ""
