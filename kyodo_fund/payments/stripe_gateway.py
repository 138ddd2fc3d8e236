"""The one door to Stripe: the only module that imports ``stripe``.

Callers get our dataclasses and exceptions (``kyodo_fund.payments.objects``, re-exported here),
never SDK objects. Every POST carries the caller's idempotency key (payments.md I1). With an
empty ``STRIPE_SECRET_KEY`` the gateway talks to the stand-in (``payments.standin``) at
``STRIPE_API_BASE``; a real key always goes to api.stripe.com.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import stripe

from kyodo_fund.payments.objects import (
    CardDeclined,
    Charge,
    CheckoutMode,
    CheckoutSession,
    Dispute,
    GatewayError,
    IdempotencyKeyReused,
    InvalidSignature,
    Invoice,
    NotFound,
    PaymentIntent,
    Refund,
    Subscription,
    WebhookEvent,
)

STANDIN_API_BASE = "http://127.0.0.1:8420"
STANDIN_API_KEY = "sk_test_kyodo_standin"  # the stand-in accepts any sk_ key
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"
WEBHOOK_TOLERANCE_SECONDS = 300
_EXTENSION = "kyodo_fund.stripe_gateway"


class StripeGateway:
    """A configured Stripe client. Build it with ``get_gateway(app_or_config)``."""

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        webhook_secrets: Iterable[str] = (),
        livemode: bool = False,
        timeout_seconds: float = 20,
        max_network_retries: int = 2,
    ) -> None:
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.RequestsClient(timeout=timeout_seconds),
            max_network_retries=max_network_retries,  # retries reuse our idempotency key
        )
        self._v1 = self._client.v1
        self.webhook_secrets: tuple[str, ...] = tuple(dict.fromkeys(s for s in webhook_secrets if s))
        self.livemode = livemode
        self.uses_standin = api_base is not None
        #: Where ``session.url`` points: list it in the CSP's form-action (the 303 follows a form POST).
        self.checkout_origin = _origin(api_base) if api_base else STRIPE_CHECKOUT_ORIGIN

    # --- Checkout -------------------------------------------------------------------------------
    def create_checkout_session(
        self,
        *,
        amount_yen: int,
        mode: CheckoutMode | str,
        product_name: str,
        success_url: str,
        cancel_url: str,
        customer_email: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
        client_reference_id: str | None = None,
        locale: str = "auto",
        payment_method_types: Iterable[str] = ("card",),
    ) -> CheckoutSession:
        """One line item of ``amount_yen``; ``subscription`` mode bills it monthly.

        ``success_url`` may contain ``{CHECKOUT_SESSION_ID}``. ``metadata`` is copied to the
        PaymentIntent (payment mode) or the Subscription, so charges and invoices lead back to it.
        """
        mode = CheckoutMode(mode)
        _check_amount(amount_yen)
        price_data: dict[str, Any] = {
            "currency": "jpy",
            "unit_amount": amount_yen,
            "product_data": {"name": product_name},
        }
        params: dict[str, Any] = {
            "mode": str(mode),
            "success_url": success_url,
            "cancel_url": cancel_url,
            "locale": locale,
            "line_items": [{"price_data": price_data, "quantity": 1}],
            "metadata": dict(metadata),
            "payment_method_types": list(payment_method_types),
        }
        if mode is CheckoutMode.SUBSCRIPTION:
            # Checkout accepts an inline monthly price in subscription mode; no Price object to manage.
            price_data["recurring"] = {"interval": "month"}
            params["subscription_data"] = {"metadata": dict(metadata)}
        else:
            params["payment_intent_data"] = {"metadata": dict(metadata)}
            params["submit_type"] = "donate"
        if customer_email:
            params["customer_email"] = customer_email
        if client_reference_id:
            params["client_reference_id"] = client_reference_id
        with _translated_errors():
            session = self._v1.checkout.sessions.create(params, _key(idempotency_key))
        return CheckoutSession.from_stripe(_plain(session))

    def retrieve_checkout_session(self, session_id: str) -> CheckoutSession:
        """The session as Stripe has it now, line items included (fulfilment trusts only this)."""
        with _translated_errors():
            session = self._v1.checkout.sessions.retrieve(session_id, {"expand": ["line_items"]})
        return CheckoutSession.from_stripe(_plain(session))

    def list_checkout_sessions(self, *, created_gte: datetime | int) -> Iterator[CheckoutSession]:
        """Every session created at or after ``created_gte``, newest first (without line items)."""
        params = {"created": {"gte": _unix(created_gte)}, "limit": 100}
        with _translated_errors():
            for session in self._v1.checkout.sessions.list(params).auto_paging_iter():
                yield CheckoutSession.from_stripe(_plain(session))

    def expire_checkout_session(self, session_id: str, *, idempotency_key: str) -> CheckoutSession:
        with _translated_errors():
            session = self._v1.checkout.sessions.expire(session_id, None, _key(idempotency_key))
        return CheckoutSession.from_stripe(_plain(session))

    # --- Events ---------------------------------------------------------------------------------
    def list_events(
        self, *, created_gte: datetime | int, types: Iterable[str] | None = None, delivery_success: bool | None = None
    ) -> Iterator[WebhookEvent]:
        """Events (kept 30 days by Stripe), newest first; ``delivery_success=False`` finds missed webhooks."""
        params: dict[str, Any] = {"created": {"gte": _unix(created_gte)}, "limit": 100}
        if types is not None:
            params["types"] = list(types)
            if not 0 < len(params["types"]) <= 20:
                raise ValueError("Stripe filters on 1 to 20 event types")
        if delivery_success is not None:
            params["delivery_success"] = delivery_success
        with _translated_errors():
            for event in self._v1.events.list(params).auto_paging_iter():
                yield WebhookEvent.from_stripe(_plain(event))

    def retrieve_event(self, event_id: str) -> WebhookEvent:
        with _translated_errors():
            return WebhookEvent.from_stripe(_plain(self._v1.events.retrieve(event_id)))

    def verify_webhook(self, payload: bytes, sig_header: str | None, *, now: float | None = None) -> WebhookEvent:
        """``verify_webhook`` with this deployment's secrets."""
        return verify_webhook(payload, sig_header, self.webhook_secrets, now=now)

    # --- Payments, charges, refunds, disputes ---------------------------------------------------
    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntent:
        with _translated_errors():
            return PaymentIntent.from_stripe(_plain(self._v1.payment_intents.retrieve(payment_intent_id)))

    def retrieve_charge(self, charge_id: str) -> Charge:
        """With the balance transaction expanded, so ``fee_yen`` is Stripe's actual fee."""
        with _translated_errors():
            charge = self._v1.charges.retrieve(charge_id, {"expand": ["balance_transaction"]})
        return Charge.from_stripe(_plain(charge))

    def create_refund(
        self,
        *,
        charge_or_payment_intent: str,
        amount_yen: int | None,
        idempotency_key: str,
        reason_metadata: Mapping[str, str] | None = None,
    ) -> Refund:
        """Refund ``amount_yen`` (``None``: what is left) of a charge (``ch_``, ``py_``) or PaymentIntent (``pi_``)."""
        target = "payment_intent" if charge_or_payment_intent.startswith("pi_") else "charge"
        params: dict[str, Any] = {target: charge_or_payment_intent, "metadata": dict(reason_metadata or {})}
        if amount_yen is not None:
            _check_amount(amount_yen)
            params["amount"] = amount_yen
        with _translated_errors():
            return Refund.from_stripe(_plain(self._v1.refunds.create(params, _key(idempotency_key))))

    def retrieve_dispute(self, dispute_id: str) -> Dispute:
        with _translated_errors():
            return Dispute.from_stripe(_plain(self._v1.disputes.retrieve(dispute_id)))

    # --- Subscriptions --------------------------------------------------------------------------
    def retrieve_invoice(self, invoice_id: str) -> Invoice:
        """The invoice with its PaymentIntent and charge (found through the invoice's payments)."""
        with _translated_errors():
            invoice = _plain(self._v1.invoices.retrieve(invoice_id))
            payments = self._v1.invoice_payments.list({"invoice": invoice_id, "status": "paid"})
            links = [_plain(p)["payment"] for p in payments.data]
        intent_id = next((_id_of(p.get("payment_intent")) for p in links if p.get("type") == "payment_intent"), None)
        intent = self.retrieve_payment_intent(intent_id) if intent_id else None
        return Invoice.from_stripe(invoice, intent_id, intent.charge_id if intent else None)

    def retrieve_subscription(self, subscription_id: str) -> Subscription:
        with _translated_errors():
            return Subscription.from_stripe(_plain(self._v1.subscriptions.retrieve(subscription_id)))

    def update_subscription_amount(
        self, subscription_id: str, *, amount_yen: int, idempotency_key: str
    ) -> Subscription:
        """Bill ``amount_yen`` monthly from the next period on, without proration."""
        _check_amount(amount_yen)
        with _translated_errors():
            current = _plain(self._v1.subscriptions.retrieve(subscription_id))
            item = current["items"]["data"][0]
            product = (item.get("price") or item.get("plan") or {}).get("product")
            price = self._v1.prices.create(
                {
                    "currency": "jpy",
                    "unit_amount": amount_yen,
                    "product": _id_of(product),
                    "recurring": {"interval": "month"},
                },
                _key(f"{idempotency_key}:price"),
            )
            updated = self._v1.subscriptions.update(
                subscription_id,
                {"items": [{"id": item["id"], "price": price.id, "quantity": 1}], "proration_behavior": "none"},
                _key(f"{idempotency_key}:subscription"),
            )
        return Subscription.from_stripe(_plain(updated))

    def cancel_subscription(
        self, subscription_id: str, *, idempotency_key: str, at_period_end: bool = False
    ) -> Subscription:
        """Stop billing now, or (``at_period_end``) after the period already paid for."""
        with _translated_errors():
            if at_period_end:
                subscription = self._v1.subscriptions.update(
                    subscription_id, {"cancel_at_period_end": True}, _key(idempotency_key)
                )
            else:  # a DELETE: idempotent by nature, Stripe ignores keys on it
                subscription = self._v1.subscriptions.cancel(subscription_id)
        return Subscription.from_stripe(_plain(subscription))


# --- webhook verification --------------------------------------------------------------------------
def verify_webhook(
    payload: bytes,
    sig_header: str | None,
    secrets: Iterable[str],
    *,
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """Check ``Stripe-Signature`` on the raw body (payments.md W1–W3) and parse the event.

    Any configured secret may match (rotation). The SDK checks the HMAC; the time window is
    checked here in both directions, because the SDK rejects only stale timestamps and reads the
    wall clock.
    """
    secrets = [s for s in secrets if s]
    if not secrets:
        raise InvalidSignature("no webhook secret is configured")
    if not isinstance(payload, bytes | bytearray):
        raise InvalidSignature("verify the raw request body (bytes)")
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, sig_header, secret, tolerance=None)
            break
        except (stripe.SignatureVerificationError, UnicodeDecodeError):
            continue
    else:
        raise InvalidSignature("no signature matches a configured secret")
    signed_at = _signed_at(sig_header or "")
    if abs((time.time() if now is None else now) - signed_at) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance window")
    try:
        return WebhookEvent.from_stripe(json.loads(payload))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidSignature("signed, but not a Stripe event") from exc


def _signed_at(header: str) -> int:
    # The first t= element, as the SDK reads it; the HMAC already covers it.
    for part in header.split(","):
        name, _, value = part.partition("=")
        if name.strip() == "t":
            return int(value)
    raise InvalidSignature("no timestamp")


# --- configuration ---------------------------------------------------------------------------------
def get_gateway(app_or_config: Any) -> StripeGateway:
    """The gateway for a Flask app (built once per app) or for a plain settings mapping."""
    extensions = getattr(app_or_config, "extensions", None)
    if extensions is None:
        return gateway_from_config(app_or_config)
    if _EXTENSION not in extensions:
        extensions[_EXTENSION] = gateway_from_config(app_or_config.config)
    return extensions[_EXTENSION]


def gateway_from_config(config: Mapping[str, Any]) -> StripeGateway:
    key = config.get("STRIPE_SECRET_KEY") or ""
    livemode = bool(config.get("STRIPE_LIVEMODE", False))
    if key and key.startswith(("sk_live_", "rk_live_")) != livemode:
        raise RuntimeError("STRIPE_LIVEMODE does not match the kind of KYODO_STRIPE_SECRET_KEY")
    if not key and (livemode or config.get("ENV_NAME") == "production"):
        raise RuntimeError("KYODO_STRIPE_SECRET_KEY must be set in production")
    return StripeGateway(
        key or STANDIN_API_KEY,
        api_base=None if key else standin_api_base(config),
        webhook_secrets=[config.get("STRIPE_WEBHOOK_SECRET") or "", *(config.get("STRIPE_WEBHOOK_SECRETS") or [])],
        livemode=livemode,
        timeout_seconds=float(config.get("STRIPE_TIMEOUT_SECONDS", 20)),
    )


def standin_api_base(config: Mapping[str, Any]) -> str:
    return (config.get("STRIPE_API_BASE") or STANDIN_API_BASE).rstrip("/")


def checkout_origin(config: Mapping[str, Any]) -> str:
    """The origin Checkout pages come from, for the CSP's form-action (no client is built)."""
    return STRIPE_CHECKOUT_ORIGIN if config.get("STRIPE_SECRET_KEY") else _origin(standin_api_base(config))


# --- helpers -----------------------------------------------------------------------------------------
@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except stripe.CardError as exc:
        raise CardDeclined(_message(exc), code=exc.code, http_status=exc.http_status) from exc
    except stripe.IdempotencyError as exc:
        raise IdempotencyKeyReused(_message(exc), http_status=exc.http_status) from exc
    except stripe.InvalidRequestError as exc:
        error = NotFound if exc.http_status == 404 else GatewayError
        raise error(_message(exc), code=exc.code, http_status=exc.http_status) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise GatewayError(_message(exc), http_status=exc.http_status, retryable=True) from exc
    except stripe.StripeError as exc:
        status = exc.http_status
        raise GatewayError(
            _message(exc), code=exc.code, http_status=status, retryable=status is None or status == 409 or status >= 500
        ) from exc


def _message(exc: stripe.StripeError) -> str:
    return exc.user_message or str(exc) or type(exc).__name__


def _key(idempotency_key: str) -> dict:
    if not idempotency_key:
        raise ValueError("every POST to Stripe needs the caller's idempotency key")
    return {"idempotency_key": idempotency_key}


def _plain(obj: Any) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


def _check_amount(amount_yen: Any) -> None:
    if not isinstance(amount_yen, int) or isinstance(amount_yen, bool) or amount_yen < 1:
        raise ValueError(f"amount_yen must be a positive int, not {amount_yen!r}")


def _unix(moment: datetime | int) -> int:
    return int(moment.timestamp()) if isinstance(moment, datetime) else int(moment)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


__all__ = [
    "CardDeclined",
    "Charge",
    "CheckoutMode",
    "CheckoutSession",
    "Dispute",
    "GatewayError",
    "IdempotencyKeyReused",
    "InvalidSignature",
    "Invoice",
    "NotFound",
    "PaymentIntent",
    "Refund",
    "StripeGateway",
    "Subscription",
    "WebhookEvent",
    "checkout_origin",
    "gateway_from_config",
    "get_gateway",
    "verify_webhook",
]
