"""Our own view of Stripe objects: frozen dataclasses built from Stripe's JSON, and our exceptions.

Nothing here imports ``stripe``; ``stripe_gateway`` fills these from API responses, and a webhook
handler may build one from ``WebhookEvent.data_object`` with ``X.from_stripe(dict)``. Amounts are
integer yen (JPY is zero-decimal, so Stripe's integer is the yen amount); any other currency is
refused rather than misread. Fields read defensively: the stand-in (localstripe) and the API
version the SDK pins differ in where a few links live (noted per field).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class GatewayError(Exception):
    """Stripe refused or could not be reached. ``retryable``: the same call with the same key may succeed."""

    def __init__(
        self, message: str, *, code: str | None = None, http_status: int | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.http_status, self.retryable = message, code, http_status, retryable


class CardDeclined(GatewayError):
    """The card was declined (HTTP 402); ``code`` says why (e.g. ``card_declined``)."""


class NotFound(GatewayError):
    """No such object on Stripe (HTTP 404)."""


class IdempotencyKeyReused(GatewayError):
    """The idempotency key was used before with different parameters: a programming error."""


class InvalidSignature(Exception):
    """A webhook whose signature, timestamp or body we do not accept."""


class CheckoutMode(enum.StrEnum):
    PAYMENT = "payment"
    SUBSCRIPTION = "subscription"


def _at(timestamp: int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(int(timestamp), UTC)


def _id(value: Any) -> str | None:
    """An expandable field: an id, an expanded object, or nothing."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value or None


def _yen(obj: Mapping, *fields: str) -> int:
    if obj.get("currency") not in (None, "jpy"):
        raise GatewayError(f"{obj.get('object')} {obj.get('id')} is in {obj['currency']}, not jpy")
    for name in fields:
        if obj.get(name) is not None:
            return int(obj[name])
    return 0


@dataclass(frozen=True)
class LineItem:
    description: str
    quantity: int
    unit_amount_yen: int
    amount_total_yen: int
    price_id: str
    recurring_interval: str | None

    @classmethod
    def from_stripe(cls, item: Mapping) -> LineItem:
        price = item.get("price") or {}
        return cls(
            description=item.get("description") or "",
            quantity=int(item.get("quantity") or 1),
            unit_amount_yen=_yen(price, "unit_amount"),
            amount_total_yen=_yen(item, "amount_total"),
            price_id=price.get("id", ""),
            recurring_interval=(price.get("recurring") or {}).get("interval"),
        )


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str  #: open | complete | expired
    payment_status: str  #: unpaid | paid | no_payment_required
    mode: str
    amount_total_yen: int
    customer_email: str | None  #: what the donor typed on Checkout, else what we prefilled
    payment_intent_id: str | None  #: payment mode only
    subscription_id: str | None  #: subscription mode only
    invoice_id: str | None  #: subscription mode: the first invoice
    customer_id: str | None
    client_reference_id: str | None
    metadata: dict[str, str]
    created_at: datetime
    expires_at: datetime | None
    line_items: tuple[LineItem, ...] = ()  #: filled by retrieve_checkout_session only

    @property
    def is_paid(self) -> bool:
        return self.payment_status == "paid"

    @classmethod
    def from_stripe(cls, s: Mapping) -> CheckoutSession:
        items = (s.get("line_items") or {}).get("data") or []
        return cls(
            id=s["id"],
            url=s.get("url"),
            status=s.get("status") or "open",
            payment_status=s.get("payment_status") or "unpaid",
            mode=s.get("mode") or "",
            amount_total_yen=_yen(s, "amount_total"),
            customer_email=(s.get("customer_details") or {}).get("email") or s.get("customer_email"),
            payment_intent_id=_id(s.get("payment_intent")),
            subscription_id=_id(s.get("subscription")),
            invoice_id=_id(s.get("invoice")),
            customer_id=_id(s.get("customer")),
            client_reference_id=s.get("client_reference_id"),
            metadata=dict(s.get("metadata") or {}),
            created_at=_at(s["created"]),
            expires_at=_at(s.get("expires_at")),
            line_items=tuple(LineItem.from_stripe(i) for i in items),
        )


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str
    amount_yen: int
    customer_id: str | None
    charge_id: str | None  #: ``latest_charge`` (an id on Stripe, expanded by localstripe)
    metadata: dict[str, str]
    created_at: datetime

    @classmethod
    def from_stripe(cls, p: Mapping) -> PaymentIntent:
        return cls(
            id=p["id"],
            status=p["status"],
            amount_yen=_yen(p, "amount"),
            customer_id=_id(p.get("customer")),
            charge_id=_id(p.get("latest_charge")),
            metadata=dict(p.get("metadata") or {}),
            created_at=_at(p["created"]),
        )


@dataclass(frozen=True)
class Charge:
    id: str
    status: str  #: succeeded | pending | failed
    paid: bool
    amount_yen: int
    amount_refunded_yen: int  #: cumulative over all refunds
    refunded: bool  #: fully refunded
    disputed: bool
    payment_intent_id: str | None
    customer_id: str | None
    balance_transaction_id: str | None
    fee_yen: int | None  #: Stripe's actual fee, once the balance transaction exists
    net_yen: int | None
    created_at: datetime

    @classmethod
    def from_stripe(cls, c: Mapping) -> Charge:
        txn = c.get("balance_transaction")
        expanded = txn if isinstance(txn, Mapping) else None
        return cls(
            id=c["id"],
            status=c.get("status") or "",
            paid=bool(c.get("paid")),
            amount_yen=_yen(c, "amount"),
            amount_refunded_yen=_yen(c, "amount_refunded"),
            refunded=bool(c.get("refunded")),
            disputed=bool(c.get("disputed")),
            payment_intent_id=_id(c.get("payment_intent")),
            customer_id=_id(c.get("customer")),
            balance_transaction_id=_id(txn),
            fee_yen=None if expanded is None else _yen(expanded, "fee"),
            net_yen=None if expanded is None else _yen(expanded, "net"),
            created_at=_at(c["created"]),
        )


@dataclass(frozen=True)
class Invoice:
    id: str
    status: str  #: draft | open | paid | uncollectible | void
    amount_due_yen: int
    amount_paid_yen: int
    customer_id: str | None
    customer_email: str | None
    subscription_id: str | None  #: ``parent.subscription_details.subscription`` on current API versions
    billing_reason: str | None  #: subscription_create (first) | subscription_cycle (renewal) | ...
    period_start_at: datetime | None
    period_end_at: datetime | None
    paid_at: datetime | None
    created_at: datetime
    payment_intent_id: str | None = None  #: from the invoice's payments (retrieve_invoice fills it)
    charge_id: str | None = None

    @classmethod
    def from_stripe(cls, i: Mapping, payment_intent_id: str | None = None, charge_id: str | None = None) -> Invoice:
        parent = (i.get("parent") or {}).get("subscription_details") or {}
        return cls(
            id=i["id"],
            status=i.get("status") or "",
            amount_due_yen=_yen(i, "amount_due"),
            amount_paid_yen=_yen(i, "amount_paid"),
            customer_id=_id(i.get("customer")),
            customer_email=i.get("customer_email"),
            subscription_id=_id(parent.get("subscription") or i.get("subscription")),
            billing_reason=i.get("billing_reason"),
            period_start_at=_at(i.get("period_start")),
            period_end_at=_at(i.get("period_end")),
            paid_at=_at((i.get("status_transitions") or {}).get("paid_at")),
            created_at=_at(i["created"]),
            payment_intent_id=payment_intent_id or _id(i.get("payment_intent")),
            charge_id=charge_id or _id(i.get("charge")),
        )


@dataclass(frozen=True)
class Subscription:
    id: str
    status: str  #: incomplete | active | past_due | canceled | unpaid | ...
    customer_id: str | None
    amount_yen: int  #: per period: unit amount × quantity of the one item
    interval: str | None
    price_id: str | None
    item_id: str | None
    current_period_end_at: datetime | None  #: on the item in current API versions
    cancel_at_period_end: bool
    canceled_at: datetime | None
    latest_invoice_id: str | None
    metadata: dict[str, str]
    created_at: datetime

    @classmethod
    def from_stripe(cls, s: Mapping) -> Subscription:
        items = (s.get("items") or {}).get("data") or [{}]
        item = items[0]
        price = item.get("price") or item.get("plan") or {}  # a legacy plan has amount, not unit_amount
        recurring = price.get("recurring") or {}
        return cls(
            id=s["id"],
            status=s.get("status") or "",
            customer_id=_id(s.get("customer")),
            amount_yen=_yen(price, "unit_amount", "amount") * int(item.get("quantity") or 1),
            interval=recurring.get("interval") or price.get("interval"),
            price_id=price.get("id"),
            item_id=item.get("id"),
            current_period_end_at=_at(item.get("current_period_end") or s.get("current_period_end")),
            cancel_at_period_end=bool(s.get("cancel_at_period_end")),
            canceled_at=_at(s.get("canceled_at")),
            latest_invoice_id=_id(s.get("latest_invoice")),
            metadata=dict(s.get("metadata") or {}),
            created_at=_at(s["created"]),
        )


@dataclass(frozen=True)
class Refund:
    id: str
    status: str  #: pending | succeeded | failed | canceled
    amount_yen: int
    charge_id: str | None
    payment_intent_id: str | None
    reason: str | None
    metadata: dict[str, str]
    created_at: datetime

    @classmethod
    def from_stripe(cls, r: Mapping) -> Refund:
        return cls(
            id=r["id"],
            status=r.get("status") or "",
            amount_yen=_yen(r, "amount"),
            charge_id=_id(r.get("charge")),
            payment_intent_id=_id(r.get("payment_intent")),
            reason=r.get("reason"),
            metadata=dict(r.get("metadata") or {}),
            created_at=_at(r["created"]),
        )


@dataclass(frozen=True)
class Dispute:
    id: str
    status: str  #: needs_response | under_review | won | lost | ...
    amount_yen: int
    charge_id: str | None
    payment_intent_id: str | None
    reason: str | None
    created_at: datetime

    @classmethod
    def from_stripe(cls, d: Mapping) -> Dispute:
        return cls(
            id=d["id"],
            status=d.get("status") or "",
            amount_yen=_yen(d, "amount"),
            charge_id=_id(d.get("charge")),
            payment_intent_id=_id(d.get("payment_intent")),
            reason=d.get("reason"),
            created_at=_at(d["created"]),
        )


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    created: int  #: Unix seconds, as Stripe sends it (compare these, not ids: ids are unordered)
    livemode: bool
    data_object: dict  #: the object as it was when the event happened; re-fetch before acting
    previous_attributes: dict | None  #: the changed fields' old values (``*.updated``, ``charge.refunded``)

    @property
    def created_at(self) -> datetime:
        return _at(self.created)

    @property
    def object_id(self) -> str | None:
        return self.data_object.get("id")

    @classmethod
    def from_stripe(cls, e: Mapping) -> WebhookEvent:
        data = e.get("data") or {}
        if e.get("object") != "event" or not isinstance(data.get("object"), Mapping):
            raise ValueError("not a Stripe event")
        previous = data.get("previous_attributes")
        return cls(
            id=e["id"],
            type=e["type"],
            created=int(e["created"]),
            livemode=bool(e.get("livemode")),
            data_object=dict(data["object"]),
            previous_attributes=None if previous is None else dict(previous),
        )
