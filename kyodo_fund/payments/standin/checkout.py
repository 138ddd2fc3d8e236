"""Checkout Sessions for the stand-in (localstripe has none); the pay page is in ``paypage``.

The objects live in localstripe's store, so ``DELETE /_config/data`` clears them, ``expand[]``
works as for localstripe's own resources, and events about them show in ``GET /v1/events``.
localstripe exports every public attribute and property as a JSON field, hence the
underscore-prefixed helpers.
"""

from __future__ import annotations

import re
import time

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import (
    Customer,
    Invoice,
    PaymentIntent,
    PaymentMethod,
    Product,
    StripeObject,
    Subscription,
    random_id,
    try_convert_to_int,
)
from localstripe.server import get_post_data, json_response, unflatten_data

from kyodo_fund.payments.standin.events import emit, in_range, newest_first
from kyodo_fund.payments.standin.prices import Price, bad, checked_metadata, checked_url, unexpected

#: Stripe's Checkout minimum and maximum charge amounts, per zero-decimal JPY.
MIN_AMOUNT = {"jpy": 50}
MAX_AMOUNT = 99_999_999
PAYMENT_METHOD_TYPES = ("card", "konbini", "customer_balance", "paypay")
SUBMIT_TYPES = ("auto", "pay", "book", "donate")
SESSION_LIFETIME = 24 * 3600


class CheckoutSession(StripeObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"

    def __init__(
        self,
        origin: str,
        /,
        mode=None,
        line_items=None,
        success_url=None,
        cancel_url=None,
        customer_email=None,
        client_reference_id=None,
        metadata=None,
        payment_intent_data=None,
        subscription_data=None,
        submit_type=None,
        locale=None,
        payment_method_types=None,
        expires_at=None,
        **kwargs,
    ):
        unexpected(kwargs)
        if mode not in ("payment", "subscription"):
            raise bad("mode")
        success_url = checked_url(success_url, "success_url", required=True)
        cancel_url = checked_url(cancel_url, "cancel_url", required=False)
        items = self._checked_items(mode, line_items)
        intent_metadata = self._child_metadata(payment_intent_data, "payment_intent_data", mode == "payment")
        sub_metadata = self._child_metadata(subscription_data, "subscription_data", mode == "subscription")
        methods = payment_method_types if payment_method_types is not None else ["card"]
        if not isinstance(methods, list) or not methods or not set(methods) <= set(PAYMENT_METHOD_TYPES):
            raise bad("payment_method_types")
        if mode == "subscription" and methods != ["card"]:
            raise bad("payment_method_types", "Only card can be used in subscription mode")
        if submit_type is not None and (submit_type not in SUBMIT_TYPES or mode != "payment"):
            raise bad("submit_type")
        if locale is not None and not (isinstance(locale, str) and re.fullmatch(r"auto|[a-z]{2}(-[A-Z]{2})?", locale)):
            raise bad("locale")
        if customer_email is not None and not (isinstance(customer_email, str) and "@" in customer_email):
            raise bad("customer_email")
        if client_reference_id is not None and not (
            isinstance(client_reference_id, str) and 0 < len(client_reference_id) <= 200
        ):
            raise bad("client_reference_id")
        metadata = checked_metadata(metadata)
        now = int(time.time())
        expires_at = try_convert_to_int(expires_at) if expires_at is not None else now + SESSION_LIFETIME
        if not isinstance(expires_at, int) or not now + 1800 <= expires_at <= now + SESSION_LIFETIME:
            raise bad("expires_at")
        currencies = {price["currency"] for _, price, _ in items}
        if len(currencies) != 1:
            raise bad("line_items", "All line items must share one currency")
        currency = currencies.pop()
        total = sum(price["unit_amount"] * quantity for _, price, quantity in items)
        if not MIN_AMOUNT.get(currency, 0) <= total <= MAX_AMOUNT:
            code = "amount_too_large" if total > MAX_AMOUNT else "amount_too_small"
            raise UserError(400, "The Checkout Session's total amount is out of range", {"code": code})
        # Every check is done: from here on objects are created.
        super().__init__(id="cs_test_" + random_id(24))
        self._line_items = [self._line_item(source, quantity) for source, _, quantity in items]
        self._payment_intent_metadata = intent_metadata
        self._subscription_metadata = sub_metadata
        self.amount_subtotal = total
        self.amount_total = total
        self.cancel_url = cancel_url
        self.client_reference_id = client_reference_id
        self.currency = currency
        self.customer = None
        self.customer_details = None
        self.customer_email = customer_email
        self.expires_at = expires_at
        self.invoice = None
        self.locale = locale
        self.metadata = metadata
        self.mode = mode
        self.payment_intent = None
        self.payment_method_types = methods
        self.payment_status = "unpaid"
        self.status = "open"
        self.submit_type = submit_type
        self.subscription = None
        self.success_url = success_url
        self.total_details = {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
        self.ui_mode = "hosted"
        self.url = f"{origin}/pay/{self.id}"

    @staticmethod
    def _checked_items(mode: str, line_items) -> list[tuple]:
        """Each item as (a Price or its price_data, the checked price fields, quantity); nothing is created yet."""
        if not isinstance(line_items, list) or not line_items:
            raise bad("line_items")
        if mode == "subscription" and len(line_items) != 1:
            raise bad("line_items", "The stand-in supports one line item in subscription mode")
        checked = []
        for n, item in enumerate(line_items):
            if not isinstance(item, dict) or not set(item) <= {"price", "price_data", "quantity"}:
                raise bad(f"line_items[{n}]")
            quantity = try_convert_to_int(item.get("quantity", 1))
            if not isinstance(quantity, int) or quantity < 1:
                raise bad(f"line_items[{n}][quantity]")
            if ("price" in item) == ("price_data" in item):
                raise bad(f"line_items[{n}]", "Exactly one of price and price_data is required")
            if "price" in item:
                source = Price._api_retrieve(item["price"])
                fields = {"currency": source.currency, "unit_amount": source.unit_amount, "recurring": source.recurring}
            elif isinstance(item["price_data"], dict):
                source = item["price_data"]
                fields = Price._checked(**source) | {"currency": source["currency"]}
            else:
                raise bad(f"line_items[{n}][price_data]")
            if (fields["recurring"] is not None) != (mode == "subscription"):
                raise bad(f"line_items[{n}]", "Recurring prices need subscription mode and vice versa")
            checked.append((source, fields, quantity))
        return checked

    @staticmethod
    def _child_metadata(value, param: str, allowed: bool) -> dict:
        if value is None:
            return {}
        if not allowed or not isinstance(value, dict) or not set(value) <= {"metadata"}:
            raise bad(param)
        return checked_metadata(value.get("metadata"), f"{param}[metadata]")

    @staticmethod
    def _line_item(source, quantity: int) -> dict:
        price = source if isinstance(source, Price) else Price(**source)
        product = Product._api_retrieve(price.product)
        amount = price.unit_amount * quantity
        return {
            "id": "li_" + random_id(24),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": amount,
            "amount_tax": 0,
            "amount_total": amount,
            "currency": price.currency,
            "description": product.name,
            "price": price._export(),
            "quantity": quantity,
        }

    def _line_items_list(self) -> dict:
        return {
            "object": "list",
            "data": list(self._line_items),
            "has_more": False,
            "url": f"/v1/checkout/sessions/{self.id}/line_items",
        }

    def _export_with(self, expand) -> dict:
        expand = list(expand or [])
        wants_items = "line_items" in expand
        exported = self._export(expand=[e for e in expand if e != "line_items"])
        if wants_items:
            exported["line_items"] = self._line_items_list()
        return exported

    def _expire_if_due(self) -> None:
        if self.status == "open" and time.time() >= self.expires_at:
            self._expire()

    def _expire(self) -> None:
        if self.status != "open":
            raise UserError(400, f"Only open sessions can be expired; this one is {self.status}.")
        self.status = "expired"
        emit("checkout.session.expired", self)

    def _pay(self, email: str | None) -> None:
        """The donor's card (pm_card_visa) is charged; the session completes as on Stripe."""
        card = PaymentMethod._api_retrieve("pm_card_visa")
        if self.mode == "payment":
            customer = Customer(email=email, payment_method=card.id)
            intent = self._attempt(card.id, customer.id)
            if intent.status != "succeeded":
                raise UserError(500, "pm_card_visa did not succeed")
            self.payment_intent = intent.id
        else:
            customer = Customer(
                email=email, payment_method=card.id, invoice_settings={"default_payment_method": card.id}
            )
            item = self._line_items[0]
            subscription = Subscription(
                customer=customer.id,
                metadata=dict(self._subscription_metadata),
                items=[{"plan": item["price"]["id"], "quantity": item["quantity"]}],
            )
            invoice = Invoice._api_retrieve(subscription.latest_invoice)
            if subscription.status != "active" or invoice.status != "paid":
                raise UserError(500, "the first invoice was not paid")
            invoice.billing_reason = "subscription_create"
            self.subscription, self.invoice = subscription.id, invoice.id
        self.customer = customer.id
        self.customer_details = {
            "email": email,
            "name": None,
            "phone": None,
            "address": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
        self.status, self.payment_status = "complete", "paid"
        emit("checkout.session.completed", self)
        if self.mode == "subscription":
            # localstripe only sends invoice.payment_succeeded; Stripe also sends invoice.paid.
            emit("invoice.paid", invoice)

    def _decline(self) -> None:
        """A declined card: in payment mode a failed PaymentIntent (and its event); the session stays open."""
        if self.mode == "payment":
            declined = PaymentMethod._api_retrieve("pm_card_chargeCustomerFail")
            self.payment_intent = self._attempt(declined.id, None).id

    def _attempt(self, payment_method: str, customer: str | None) -> PaymentIntent:
        # One PaymentIntent per session, re-confirmed after a decline, as Checkout does.
        intent = PaymentIntent._api_retrieve(self.payment_intent) if self.payment_intent else None
        if intent is None or intent.status != "requires_payment_method":
            intent = PaymentIntent(
                amount=self.amount_total,
                currency=self.currency,
                customer=customer,
                payment_method=payment_method,
                metadata=dict(self._payment_intent_metadata),
            )
        intent.payment_method, intent.customer, intent.latest_charge = payment_method, customer, None
        intent._confirm(on_failure_now=lambda: emit("payment_intent.payment_failed", intent))
        return intent

    @classmethod
    def _api_list_all(
        cls,
        url,
        created=None,
        status=None,
        customer=None,
        payment_intent=None,
        subscription=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        unexpected(kwargs)
        listing = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        for session in listing._list:
            session._expire_if_due()
        filters = {
            "status": status,
            "customer": customer,
            "payment_intent": payment_intent,
            "subscription": subscription,
        }
        listing._list = newest_first(
            [
                s
                for s in listing._list
                if all(v is None or getattr(s, k) == v for k, v in filters.items())
                and (
                    created is None
                    or (
                        in_range(s.created, created)
                        if isinstance(created, dict)
                        else s.created == try_convert_to_int(created)
                    )
                )
            ]
        )
        return listing


# --- routes ------------------------------------------------------------------------------------
def _public_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def create_session(request: web.Request) -> web.Response:
    data = await get_post_data(request) or {}
    expand = data.pop("expand", None)
    return json_response(CheckoutSession(_public_origin(request), **data)._export_with(expand))


def _session(request: web.Request) -> CheckoutSession:
    session = CheckoutSession._api_retrieve(request.match_info["id"])
    session._expire_if_due()
    return session


async def retrieve_session(request: web.Request) -> web.Response:
    query = unflatten_data(request.query)
    expand = query.pop("expand", None)
    unexpected(query)
    return json_response(_session(request)._export_with(expand))


async def list_sessions(request: web.Request) -> web.Response:
    query = unflatten_data(request.query)
    expand = query.pop("expand", None)
    return json_response(CheckoutSession._api_list_all(request.path, **query)._export(expand=expand))


async def session_line_items(request: web.Request) -> web.Response:
    return json_response(_session(request)._line_items_list())


async def expire_session(request: web.Request) -> web.Response:
    session = _session(request)
    session._expire()
    return json_response(session._export())


def add_routes(app: web.Application) -> None:
    from kyodo_fund.payments.standin.paypage import pay_page, submit_pay_page

    router = app.router
    router.add_post("/v1/checkout/sessions", create_session)
    router.add_get("/v1/checkout/sessions", list_sessions)
    router.add_get("/v1/checkout/sessions/{id}", retrieve_session)
    router.add_get("/v1/checkout/sessions/{id}/line_items", session_line_items)
    router.add_post("/v1/checkout/sessions/{id}/expire", expire_session)
    router.add_get("/pay/{id}", pay_page)
    router.add_post("/pay/{id}", submit_pay_page)
