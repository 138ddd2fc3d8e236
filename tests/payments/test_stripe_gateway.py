"""The Stripe adapter: webhook verification, configuration, error mapping, subscription changes.
Everything talks to the real stand-in over HTTP except the pure signature checks."""

from __future__ import annotations

import json
import os
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kyodo_fund.payments.stripe_gateway import (
    STRIPE_CHECKOUT_ORIGIN,
    CardDeclined,
    GatewayError,
    InvalidSignature,
    NotFound,
    StripeGateway,
    _translated_errors,
    checkout_origin,
    gateway_from_config,
    get_gateway,
    verify_webhook,
)
from tests.fixtures_stripe import TEST_WEBHOOK_SECRET, sign_payload

NOW = 1_790_000_000
EVENT = json.dumps(
    {
        "id": "evt_test_1",
        "object": "event",
        "type": "checkout.session.completed",
        "created": NOW,
        "livemode": False,
        "data": {"object": {"id": "cs_test_1", "object": "checkout.session", "payment_status": "paid"}},
    }
).encode()


def signed(payload: bytes = EVENT, secret: str = TEST_WEBHOOK_SECRET, at: int = NOW) -> str:
    return sign_payload(payload, secret, at)


# --- webhook verification (W1–W3) -------------------------------------------------------------------
def test_verify_accepts_a_correctly_signed_event():
    event = verify_webhook(EVENT, signed(), [TEST_WEBHOOK_SECRET], now=NOW)
    assert (event.id, event.type, event.object_id, event.livemode) == (
        "evt_test_1",
        "checkout.session.completed",
        "cs_test_1",
        False,
    )
    assert event.created_at == datetime.fromtimestamp(NOW, UTC) and event.previous_attributes is None


def test_verify_rejects_a_tampered_body():
    tampered = EVENT.replace(b'"paid"', b'"unpaid"')
    with pytest.raises(InvalidSignature):
        verify_webhook(tampered, signed(), [TEST_WEBHOOK_SECRET], now=NOW)


@pytest.mark.parametrize(
    ("signed_at", "accepted"),
    [
        (NOW - 299, True),
        (NOW - 300, True),
        (NOW - 301, False),
        (NOW + 299, True),
        (NOW + 301, False),
        (NOW + 600, False),
    ],
)
def test_verify_accepts_only_timestamps_within_300_seconds_either_way(signed_at, accepted):
    header = signed(at=signed_at)
    if accepted:
        assert verify_webhook(EVENT, header, [TEST_WEBHOOK_SECRET], now=NOW).id == "evt_test_1"
    else:
        with pytest.raises(InvalidSignature, match="tolerance"):
            verify_webhook(EVENT, header, [TEST_WEBHOOK_SECRET], now=NOW)


def test_verify_uses_the_wall_clock_by_default():
    fresh = int(time.time())
    assert verify_webhook(EVENT, signed(at=fresh), [TEST_WEBHOOK_SECRET]).id == "evt_test_1"
    with pytest.raises(InvalidSignature):
        verify_webhook(EVENT, signed(at=fresh - 301), [TEST_WEBHOOK_SECRET])
    with pytest.raises(InvalidSignature):
        verify_webhook(EVENT, signed(at=fresh + 600), [TEST_WEBHOOK_SECRET])


def test_secret_rotation_accepts_either_secret_until_the_old_one_is_removed():
    old, new = "whsec_old", "whsec_new"
    rotating = gateway_from_config({"STRIPE_WEBHOOK_SECRET": new, "STRIPE_WEBHOOK_SECRETS": [old]})
    assert rotating.verify_webhook(EVENT, signed(secret=old), now=NOW).id == "evt_test_1"
    assert rotating.verify_webhook(EVENT, signed(secret=new), now=NOW).id == "evt_test_1"
    both = f"{signed(secret=old)},v1={signed(secret=new).split('v1=')[1]}"  # Stripe signs with each live secret
    assert rotating.verify_webhook(EVENT, both, now=NOW).id == "evt_test_1"

    rotated = gateway_from_config({"STRIPE_WEBHOOK_SECRET": new, "STRIPE_WEBHOOK_SECRETS": []})
    assert rotated.verify_webhook(EVENT, signed(secret=new), now=NOW).id == "evt_test_1"
    with pytest.raises(InvalidSignature):
        rotated.verify_webhook(EVENT, signed(secret=old), now=NOW)


@pytest.mark.parametrize(
    ("payload", "header", "secrets"),
    [
        (EVENT, signed(), []),  # nothing configured
        (EVENT, "", [TEST_WEBHOOK_SECRET]),  # no header
        (EVENT, "v1=abc", [TEST_WEBHOOK_SECRET]),  # no timestamp
        (EVENT.decode(), signed(), [TEST_WEBHOOK_SECRET]),  # already decoded: not the raw body
        (b'{"object": "list"}', signed(b'{"object": "list"}'), [TEST_WEBHOOK_SECRET]),  # signed, not an event
        (b"\xff\xfe", signed(b"\xff\xfe"), [TEST_WEBHOOK_SECRET]),  # not UTF-8
    ],
)
def test_verify_rejects_malformed_input(payload, header, secrets):
    with pytest.raises(InvalidSignature):
        verify_webhook(payload, header, secrets, now=NOW)


# --- configuration ----------------------------------------------------------------------------------
def test_empty_secret_key_means_the_standin():
    config = {
        "STRIPE_SECRET_KEY": "",
        "STRIPE_API_BASE": "http://127.0.0.1:8420/",
        "STRIPE_WEBHOOK_SECRET": "whsec_a",
        "STRIPE_WEBHOOK_SECRETS": ["whsec_b", "whsec_a", ""],
    }
    gateway = gateway_from_config(config)
    assert gateway.uses_standin and gateway.checkout_origin == "http://127.0.0.1:8420"
    assert gateway.webhook_secrets == ("whsec_a", "whsec_b")
    assert checkout_origin(config) == "http://127.0.0.1:8420"


def test_a_real_key_always_goes_to_stripe():
    config = {"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_API_BASE": "http://127.0.0.1:8420"}
    gateway = gateway_from_config(config)
    assert not gateway.uses_standin and gateway.checkout_origin == STRIPE_CHECKOUT_ORIGIN
    assert checkout_origin(config) == STRIPE_CHECKOUT_ORIGIN == "https://checkout.stripe.com"


@pytest.mark.parametrize(
    "config",
    [
        {"STRIPE_SECRET_KEY": "sk_live_123", "STRIPE_LIVEMODE": False},
        {"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_LIVEMODE": True},
        {"STRIPE_SECRET_KEY": "", "ENV_NAME": "production"},
    ],
)
def test_inconsistent_or_missing_production_keys_refuse_to_start(config):
    with pytest.raises(RuntimeError):
        gateway_from_config(config)


def test_app_gateway_is_built_once_per_app_from_its_config(app_gateway, app, stripe_standin):
    assert get_gateway(app) is app_gateway
    assert app_gateway.checkout_origin == stripe_standin.base_url
    assert app_gateway.webhook_secrets == (TEST_WEBHOOK_SECRET,)


def test_only_the_gateway_imports_stripe():
    root = Path(__file__).resolve().parents[2] / "kyodo_fund"
    importers = {
        str(path.relative_to(root.parent))
        for path in root.rglob("*.py")
        if re.search(r"^\s*(import stripe|from stripe\b)", path.read_text(encoding="utf-8"), re.M)
    }
    assert importers == {"kyodo_fund/payments/stripe_gateway.py"}


# --- calls and errors ---------------------------------------------------------------------------------
def _session(gateway, **overrides):
    params = {
        "amount_yen": 1000,
        "mode": "subscription",
        "product_name": "毎月の寄付",
        "success_url": "http://127.0.0.1:9/ok",
        "cancel_url": "http://127.0.0.1:9/cancel",
        "customer_email": "monthly@example.jp",
        "metadata": {"donation_intent": "9"},
        "idempotency_key": os.urandom(8).hex(),
        **overrides,
    }
    return gateway.create_checkout_session(**params)


@pytest.mark.parametrize("amount", [0, -1000, 1000.0, "1000", True])
def test_amounts_must_be_positive_integers(gateway, amount):
    with pytest.raises(ValueError, match="amount_yen"):
        _session(gateway, amount_yen=amount)


def test_every_post_needs_an_idempotency_key(gateway):
    with pytest.raises(ValueError, match="idempotency"):
        _session(gateway, idempotency_key="")


def test_unknown_objects_raise_not_found(gateway):
    with pytest.raises(NotFound) as missing:
        gateway.retrieve_checkout_session("cs_test_missing")
    assert missing.value.http_status == 404 and not missing.value.retryable
    with pytest.raises(NotFound):
        gateway.retrieve_charge("ch_missing")


def test_an_unreachable_stripe_is_a_retryable_gateway_error():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    offline = StripeGateway("sk_test_x", api_base=f"http://127.0.0.1:{port}", max_network_retries=0)
    with pytest.raises(GatewayError) as failure:
        offline.retrieve_checkout_session("cs_test_1")
    assert failure.value.retryable and failure.value.http_status is None


def test_a_card_decline_becomes_card_declined(gateway):
    # No gateway method confirms cards (Checkout does); a raw decline from the stand-in shows the mapping.
    with pytest.raises(CardDeclined) as declined, _translated_errors():
        gateway._client.v1.payment_intents.create(
            {"amount": 3000, "currency": "jpy", "payment_method": "pm_card_chargeCustomerFail", "confirm": True}
        )
    assert (declined.value.code, declined.value.http_status) == ("card_declined", 402)


def test_list_checkout_sessions_since_a_moment(gateway):
    before = _session(gateway)
    later = [_session(gateway) for _ in range(2)]
    since = {s.id for s in gateway.list_checkout_sessions(created_gte=before.created_at)}
    assert since >= {before.id, *(s.id for s in later)}
    assert not list(gateway.list_checkout_sessions(created_gte=int(time.time()) + 3600))


def test_list_events_limits_types_like_stripe(gateway):
    with pytest.raises(ValueError):
        list(gateway.list_events(created_gte=0, types=[f"type.{n}" for n in range(21)]))


def test_subscription_amount_change_and_cancellation(gateway, stripe_standin, webhook_receiver):
    session = _session(gateway)
    stripe_standin.pay(session.url)
    subscription_id = gateway.retrieve_checkout_session(session.id).subscription_id
    before = gateway.retrieve_subscription(subscription_id)

    changed = gateway.update_subscription_amount(subscription_id, amount_yen=2500, idempotency_key="raise-1")
    assert (changed.amount_yen, changed.item_id, changed.status) == (2500, before.item_id, "active")
    assert changed.price_id != before.price_id and changed.metadata == before.metadata
    again = gateway.update_subscription_amount(subscription_id, amount_yen=2500, idempotency_key="raise-1")
    assert again.price_id == changed.price_id  # the retry reused the price it created
    update = webhook_receiver.wait_for("customer.subscription.updated", object_id=subscription_id)
    assert "items" in gateway.verify_webhook(update.body, update.signature).previous_attributes

    pending = gateway.cancel_subscription(subscription_id, idempotency_key="stop-1", at_period_end=True)
    assert (pending.status, pending.cancel_at_period_end) == ("active", True)
    ended = gateway.cancel_subscription(subscription_id, idempotency_key="stop-2")
    assert ended.status == "canceled" and ended.canceled_at is not None
    deleted = webhook_receiver.wait_for("customer.subscription.deleted", object_id=subscription_id)
    assert deleted.event["data"]["object"]["status"] == "canceled"
