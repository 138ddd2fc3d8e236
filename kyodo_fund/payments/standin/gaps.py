"""Gaps in localstripe's own resources, filled in place for the stand-in.

localstripe (``.venv/.../localstripe/``) keeps its objects in ``resources.store`` and serialises
every public attribute and property of an object (``StripeObject._export``), so the helpers
added here are underscore-prefixed and the new fields are plain attributes or properties.
``install(app)`` applies everything once, before the aiohttp app is frozen.
"""

from __future__ import annotations

import hashlib
import time

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import (
    BalanceTransaction,
    Charge,
    Customer,
    Invoice,
    PaymentIntent,
    PaymentMethod,
    Plan,
    Refund,
    StripeObject,
    Subscription,
    SubscriptionItem,
    store,
    try_convert_to_int,
)
from localstripe.server import get_api_key, json_response, unflatten_data

from kyodo_fund.payments.standin.events import changed, emit, newest_first

#: Card fee the stand-in books on each charge's balance transaction (Stripe Japan: 3.6 %).
CARD_FEE_PER_MILLE = 36
_IDEMPOTENCY = "kyodo:idempotency"  # lives in the store, so DELETE /_config/data clears it too
_REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def install(app: web.Application) -> None:
    Refund._api_create = classmethod(_create_refund)
    Subscription._api_update = classmethod(_update_subscription)
    Subscription._api_delete = classmethod(_stamp_cancellation(Subscription._api_delete.__func__))
    SubscriptionItem.price = property(_item_price)
    SubscriptionItem.current_period_start = property(lambda item: item._current_period()["start"])
    SubscriptionItem.current_period_end = property(lambda item: item._current_period()["end"])
    Charge.disputed = property(lambda charge: getattr(charge, "_dispute", None) is not None)
    BalanceTransaction.__init__ = _with_card_fee(BalanceTransaction.__init__)
    app.middlewares.append(idempotency_middleware)
    app.router.add_get("/v1/invoice_payments", list_invoice_payments)
    app.router.add_get("/v1/disputes", list_disputes)
    app.router.add_get("/v1/disputes/{id}", retrieve_dispute)


# --- idempotency -------------------------------------------------------------------------------
@web.middleware
async def idempotency_middleware(request: web.Request, handler):
    """Replay the first response for a repeated ``Idempotency-Key`` (localstripe ignores the header).

    Like Stripe: keys are per API key, only POSTs, a reuse with other parameters is an
    ``idempotency_error``, validation errors are not saved, a concurrent reuse gets 409.
    """
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key or not request.path.startswith("/v1/"):
        return await handler(request)
    body = await request.read()
    fingerprint = hashlib.sha256(request.path.encode() + b"\0" + body).hexdigest()
    saved = store.setdefault(_IDEMPOTENCY, {})
    slot = (get_api_key(request), key)
    if slot in saved:
        first = saved[slot]
        if first is None:
            return _idempotency_error(409, "A request with this idempotency key is still in progress.")
        if first["fingerprint"] != fingerprint:
            return _idempotency_error(
                400, "Keys for idempotent requests can only be used with the same parameters they were first used with."
            )
        return web.Response(
            status=first["status"],
            body=first["body"],
            content_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )
    saved[slot] = None
    try:
        response = await handler(request)
    except UserError as exc:
        if exc.code != 402:  # card declines are results; other errors never ran
            saved.pop(slot, None)
            raise
        response = exc.to_response()
    except BaseException:
        saved.pop(slot, None)
        raise
    if response.status < 300 or response.status == 402:
        saved[slot] = {"fingerprint": fingerprint, "status": response.status, "body": response.body}
    else:
        saved.pop(slot, None)
    return response


def _idempotency_error(status: int, message: str) -> web.Response:
    return json_response({"error": {"type": "idempotency_error", "message": message}}, status=status)


# --- refunds -----------------------------------------------------------------------------------
def _create_refund(cls, reason=None, **data):
    # localstripe accepts refunds beyond the charge, refunds the full amount again when `amount` is
    # left out, rejects `reason` and sends no events.
    if reason is not None and reason not in _REFUND_REASONS:
        raise UserError(400, "Invalid reason", {"param": "reason"})
    charge = _refundable_charge(data.get("charge"), data.get("payment_intent"))
    amount = try_convert_to_int(data.get("amount"))
    if charge is not None:
        remaining = charge.amount - charge.amount_refunded
        if remaining <= 0:
            raise UserError(400, f"Charge {charge.id} has already been refunded.", {"code": "charge_already_refunded"})
        if isinstance(amount, int) and amount > remaining:
            raise UserError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                {"code": "amount_too_large", "param": "amount"},
            )
        if amount is None:
            data["amount"] = remaining  # localstripe would refund the whole charge again
    before = charge._export() if charge is not None else None
    refund = cls(**data)
    refund.reason = reason
    charge = Charge._api_retrieve(refund.charge)
    emit("refund.created", refund)
    emit("charge.refunded", charge, changed(_pick(before, "amount_refunded", "refunded"), charge._export()))
    return refund


def _refundable_charge(charge_id, payment_intent_id) -> Charge | None:
    try:
        if isinstance(charge_id, str):
            return Charge._api_retrieve(charge_id)
        if isinstance(payment_intent_id, str):
            return PaymentIntent._api_retrieve(payment_intent_id).latest_charge
    except UserError:
        return None  # localstripe's own validation answers
    return None


def _pick(snapshot: dict | None, *keys: str) -> dict:
    return {k: snapshot[k] for k in keys} if snapshot else {}


def _with_card_fee(original_init):
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if self.type == "charge":
            self.fee = (self.amount * CARD_FEE_PER_MILLE + 500) // 1000
            self.fee_details = [
                {
                    "amount": self.fee,
                    "currency": self.currency,
                    "description": "Stripe processing fees",
                    "type": "stripe_fee",
                    "application": None,
                }
            ]

    return __init__


# --- subscriptions -----------------------------------------------------------------------------
def _update_subscription(cls, id, proration_behavior=None, **data):
    # localstripe knows legacy plans only, has no proration_behavior and sends no update event.
    if proration_behavior not in (None, "none", "create_prorations", "always_invoice"):
        raise UserError(400, "Invalid proration_behavior", {"param": "proration_behavior"})
    subscription = cls._api_retrieve(id)
    before = subscription._export()
    items = data.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and "price" in item:
                item["plan"] = item.pop("price")
    if items is not None and proration_behavior == "none":
        _swap_price_without_proration(subscription, data.pop("items"))
    if data:
        subscription._update(**data)
    after = subscription._export()
    emit("customer.subscription.updated", subscription, changed(before, after))
    return subscription


def _stamp_cancellation(cancel):
    def _cancel_subscription(cls, id):
        cls._api_retrieve(id).canceled_at = int(time.time())  # before localstripe sends the event
        return cancel(cls, id)

    return _cancel_subscription


def _swap_price_without_proration(subscription, items) -> None:
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise UserError(400, "Exactly one item is supported", {"param": "items"})
    current = subscription.items._list[0]
    wanted = items[0]
    if wanted.get("id") not in (None, current.id):
        raise UserError(404, f"No such subscription item: {wanted['id']}", {"param": "items[0][id]"})
    quantity = try_convert_to_int(wanted.get("quantity", current.quantity))
    if not isinstance(quantity, int) or quantity < 1:
        raise UserError(400, "Invalid quantity", {"param": "items[0][quantity]"})
    plan = Plan._api_retrieve(wanted["plan"]) if wanted.get("plan") else current.plan
    current.plan, current.quantity, subscription.quantity = plan, quantity, quantity


def _item_price(item) -> dict:
    price = store.get("price:" + item.plan.id)
    if price is not None:
        return price._export()
    plan = item.plan
    return {
        "id": plan.id,
        "object": "price",
        "currency": plan.currency,
        "unit_amount": plan.amount,
        "product": plan.product,
        "type": "recurring",
        "recurring": {"interval": plan.interval, "interval_count": plan.interval_count},
    }


def renew_subscription(subscription: Subscription, succeed: bool = True) -> Invoice:
    """Bill the next period now (localstripe never renews by itself): a new invoice, paid or failed."""
    previous = Invoice._api_retrieve(subscription.latest_invoice)
    customer = Customer._api_retrieve(subscription.customer)
    saved_card = customer.invoice_settings.get("default_payment_method")
    if not succeed:
        failing = PaymentMethod._api_retrieve("pm_card_chargeCustomerFail")
        PaymentMethod._api_attach(failing.id, customer=customer.id)
        customer.invoice_settings["default_payment_method"] = failing.id
    try:
        invoice = Invoice._api_create(customer=customer.id, subscription=subscription.id)
        invoice._finalize()
        invoice.billing_reason = "subscription_cycle"
        # localstripe derives every invoice's period from the start date; move this one on.
        invoice.period_start = previous.period_end
        invoice.period_end = previous.period_end + (previous.period_end - previous.period_start)
        Invoice._api_pay_invoice(invoice.id)
    finally:
        customer.invoice_settings["default_payment_method"] = saved_card
    subscription.latest_invoice = invoice.id
    if invoice.status == "paid":
        emit("invoice.paid", invoice)
    else:
        # localstripe's invoice payment swallows the decline; say what Stripe says.
        before = subscription._export()
        subscription.status = "past_due"
        emit("payment_intent.payment_failed", PaymentIntent._api_retrieve(invoice.payment_intent))
        emit("invoice.payment_failed", invoice)
        emit("customer.subscription.updated", subscription, changed(before, subscription._export()))
    return invoice


# --- invoice payments (the API version the SDK pins has no invoice.payment_intent) --------------
def invoice_payment(invoice: Invoice) -> dict | None:
    if not invoice.payment_intent:
        return None
    intent = PaymentIntent._api_retrieve(invoice.payment_intent)
    paid = invoice.status == "paid"
    status = "paid" if paid else ("canceled" if intent.status == "canceled" else "open")
    return {
        "id": "inpay_" + invoice.id.removeprefix("in_"),
        "object": "invoice_payment",
        "amount_paid": invoice.amount_paid if paid else None,
        "amount_requested": invoice.amount_due,
        "created": invoice.created,
        "currency": invoice.currency,
        "invoice": invoice.id,
        "is_default": True,
        "livemode": False,
        "payment": {"type": "payment_intent", "payment_intent": intent.id},
        "status": status,
        "status_transitions": {"canceled_at": None, "paid_at": invoice.status_transitions["paid_at"]},
    }


async def list_invoice_payments(request: web.Request) -> web.Response:
    query = unflatten_data(request.query)
    query.pop("expand", None)
    query.pop("limit", None)
    invoice_id, status = query.pop("invoice", None), query.pop("status", None)
    if query:
        raise UserError(400, "Unexpected " + ", ".join(query))
    invoices = [Invoice._api_retrieve(invoice_id)] if invoice_id else Invoice._api_list_all(None, limit=100)._list
    rows = [p for p in map(invoice_payment, invoices) if p and (status is None or p["status"] == status)]
    return json_response({"object": "list", "data": rows, "has_more": False, "url": "/v1/invoice_payments"})


# --- disputes ----------------------------------------------------------------------------------
class Dispute(StripeObject):
    """A card dispute, opened only through the stand-in's ``POST /_config/disputes``."""

    object = "dispute"
    _id_prefix = "dp_"

    def __init__(self, charge=None, reason="fraudulent", amount=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        if not isinstance(charge, str):
            raise UserError(400, "Missing charge", {"param": "charge"})
        charge_obj = Charge._api_retrieve(charge)
        amount = try_convert_to_int(amount if amount is not None else charge_obj.amount)
        if not isinstance(amount, int) or not 0 < amount <= charge_obj.amount:
            raise UserError(400, "Invalid amount", {"param": "amount"})
        super().__init__()
        self.amount = amount
        self.balance_transactions = []
        self.charge = charge
        self.currency = charge_obj.currency
        self.evidence = {}
        self.is_charge_refundable = False
        self.metadata = {}
        self.payment_intent = charge_obj.payment_intent
        self.reason = reason
        self.status = "needs_response"
        charge_obj._dispute = self.id


async def retrieve_dispute(request: web.Request) -> web.Response:
    return json_response(Dispute._api_retrieve(request.match_info["id"])._export())


async def list_disputes(request: web.Request) -> web.Response:
    query = unflatten_data(request.query)
    listing = Dispute._api_list_all(
        request.path, limit=query.pop("limit", None), starting_after=query.pop("starting_after", None)
    )
    if charge := query.pop("charge", None):
        listing._list = [d for d in listing._list if d.charge == charge]
    listing._list = newest_first(listing._list)
    return json_response(listing._export())
