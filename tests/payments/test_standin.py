"""The Stripe stand-in over real HTTP: Checkout and its pay page, events, idempotency, refunds,
renewals, disputes. API calls go through the real stripe client (the gateway) where it has a method."""

from __future__ import annotations

import os
import tempfile

import pytest

from kyodo_fund.payments.stripe_gateway import GatewayError, IdempotencyKeyReused
from tests.fixtures_stripe import http, wait_until

SUCCESS = "http://127.0.0.1:9/donate/thanks?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "http://127.0.0.1:9/donate/cancelled"


def new_session(gateway, *, amount_yen=3000, mode="payment", key=None, email="donor@example.jp", **extra):
    return gateway.create_checkout_session(
        amount_yen=amount_yen,
        mode=mode,
        product_name="信州協働推進基金への寄付",
        success_url=SUCCESS,
        cancel_url=CANCEL,
        customer_email=email,
        metadata={"donation_intent": "42"},
        idempotency_key=key or os.urandom(8).hex(),
        **extra,
    )


def test_payment_mode_pay_page_completes_session_and_redirects(gateway, stripe_standin):
    session = new_session(gateway)
    assert (session.status, session.payment_status, session.amount_total_yen) == ("open", "unpaid", 3000)
    assert session.id.startswith("cs_test_") and session.url == f"{stripe_standin.base_url}/pay/{session.id}"

    page = http("GET", session.url)
    assert page.status == 200 and "¥3,000" in page.text and 'value="pay"' in page.text

    paid = stripe_standin.pay(session.url)
    assert paid.status == 303
    assert paid.headers["Location"] == f"http://127.0.0.1:9/donate/thanks?session_id={session.id}"
    assert stripe_standin.pay(session.url).status == 409  # a second click charges nothing

    done = gateway.retrieve_checkout_session(session.id)
    assert (done.status, done.payment_status, done.customer_email) == ("complete", "paid", "donor@example.jp")
    assert [(i.description, i.amount_total_yen, i.recurring_interval) for i in done.line_items] == [
        ("信州協働推進基金への寄付", 3000, None)
    ]
    intent = gateway.retrieve_payment_intent(done.payment_intent_id)
    assert intent.status == "succeeded" and intent.metadata == {"donation_intent": "42"}
    charge = gateway.retrieve_charge(intent.charge_id)
    assert (charge.amount_yen, charge.paid, charge.amount_refunded_yen) == (3000, True, 0)
    assert (charge.fee_yen, charge.net_yen) == (108, 2892)  # the stand-in's 3.6 % card fee


def test_subscription_mode_starts_monthly_subscription_with_paid_first_invoice(gateway, stripe_standin):
    session = new_session(gateway, amount_yen=1000, mode="subscription")
    assert stripe_standin.pay(session.url).status == 303

    done = gateway.retrieve_checkout_session(session.id)
    assert (done.status, done.payment_status, done.payment_intent_id) == ("complete", "paid", None)
    assert done.line_items[0].recurring_interval == "month"
    subscription = gateway.retrieve_subscription(done.subscription_id)
    assert (subscription.status, subscription.amount_yen, subscription.interval) == ("active", 1000, "month")
    assert subscription.metadata == {"donation_intent": "42"} and subscription.customer_id == done.customer_id
    invoice = gateway.retrieve_invoice(done.invoice_id)
    assert (invoice.status, invoice.amount_paid_yen, invoice.billing_reason) == ("paid", 1000, "subscription_create")
    assert invoice.subscription_id == subscription.id
    assert gateway.retrieve_charge(invoice.charge_id).amount_yen == 1000


def test_pay_page_asks_for_email_when_none_was_given(gateway, stripe_standin):
    session = new_session(gateway, email=None)
    assert 'name="email"' in http("GET", session.url).text
    assert stripe_standin.pay(session.url).status == 400
    assert stripe_standin.pay(session.url, email="walkin@example.jp").status == 303
    assert gateway.retrieve_checkout_session(session.id).customer_email == "walkin@example.jp"


def test_decline_keeps_session_open_and_a_later_payment_reuses_the_intent(gateway, stripe_standin, webhook_receiver):
    session = new_session(gateway)
    declined = stripe_standin.pay(session.url, action="decline")
    assert declined.status == 402 and "カードが拒否されました" in declined.text

    after = gateway.retrieve_checkout_session(session.id)
    assert (after.status, after.payment_status) == ("open", "unpaid")
    assert gateway.retrieve_payment_intent(after.payment_intent_id).status == "requires_payment_method"
    webhook_receiver.wait_for("payment_intent.payment_failed", object_id=after.payment_intent_id)

    assert stripe_standin.pay(session.url).status == 303
    done = gateway.retrieve_checkout_session(session.id)
    assert done.payment_status == "paid" and done.payment_intent_id == after.payment_intent_id


def test_completion_sends_signed_events_that_are_also_listed(gateway, stripe_standin, webhook_receiver):
    session = new_session(gateway, amount_yen=1000, mode="subscription")
    stripe_standin.pay(session.url)
    done = gateway.retrieve_checkout_session(session.id)

    completed = webhook_receiver.wait_for("checkout.session.completed", object_id=session.id)
    event = gateway.verify_webhook(completed.body, completed.signature)
    assert (event.type, event.object_id, event.data_object["payment_status"]) == (
        "checkout.session.completed",
        session.id,
        "paid",
    )
    invoice_paid = gateway.verify_webhook(*_raw(webhook_receiver.wait_for("invoice.paid", object_id=done.invoice_id)))
    assert invoice_paid.data_object["billing_reason"] == "subscription_create"

    listed = list(gateway.list_events(created_gte=0, types=["checkout.session.completed", "invoice.paid"]))
    assert {e.id for e in listed} == {event.id, invoice_paid.id}


def test_events_a_failing_endpoint_refused_are_listed_as_undelivered(gateway, stripe_standin, webhook_receiver):
    webhook_receiver.status = 500
    session = new_session(gateway)
    stripe_standin.pay(session.url)
    refused = gateway.verify_webhook(*_raw(webhook_receiver.wait_for("checkout.session.completed")))

    def undelivered():
        return {e.id for e in gateway.list_events(created_gte=0, delivery_success=False)}

    wait_until(lambda: refused.id in undelivered())
    assert refused.id not in {e.id for e in gateway.list_events(created_gte=0, delivery_success=True)}


def test_unknown_and_invalid_parameters_are_refused_like_stripe(stripe_standin):
    base = {
        "mode": "payment",
        "success_url": "http://127.0.0.1:9/ok",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "jpy",
        "line_items[0][price_data][unit_amount]": "3000",
        "line_items[0][price_data][product_data][name]": "寄付",
    }
    assert stripe_standin.api("POST", "/v1/checkout/sessions", base).status == 200
    unknown = stripe_standin.api("POST", "/v1/checkout/sessions", {**base, "automatic_tax[enabled]": "true"})
    assert unknown.status == 400 and "Unexpected automatic_tax" in unknown.json()["error"]["message"]
    too_small = stripe_standin.api(
        "POST", "/v1/checkout/sessions", {**base, "line_items[0][price_data][unit_amount]": "49"}
    )
    assert too_small.json()["error"]["code"] == "amount_too_small"
    one_time_in_subscription = stripe_standin.api("POST", "/v1/checkout/sessions", {**base, "mode": "subscription"})
    assert one_time_in_subscription.status == 400
    konbini_monthly = {
        **base,
        "mode": "subscription",
        "line_items[0][price_data][recurring][interval]": "month",
        "payment_method_types[0]": "konbini",
    }
    assert stripe_standin.api("POST", "/v1/checkout/sessions", konbini_monthly).status == 400
    assert stripe_standin.api("GET", "/v1/checkout/sessions/cs_test_nope").status == 404
    assert http("GET", stripe_standin.base_url + "/v1/checkout/sessions").status == 401  # no API key


def test_prices_and_line_items_routes(stripe_standin):
    price = stripe_standin.api(
        "POST",
        "/v1/prices",
        {
            "currency": "jpy",
            "unit_amount": "1000",
            "product_data[name]": "毎月の寄付",
            "recurring[interval]": "month",
        },
    ).json()
    assert (price["type"], price["recurring"]["interval"], price["unit_amount"]) == ("recurring", "month", 1000)
    assert stripe_standin.api("GET", f"/v1/prices/{price['id']}").json()["id"] == price["id"]
    assert stripe_standin.api("GET", f"/v1/plans/{price['id']}").json()["amount"] == 1000  # the mirrored plan
    listed = stripe_standin.api("GET", "/v1/prices?type=recurring").json()["data"]
    assert price["id"] in [p["id"] for p in listed]

    session = stripe_standin.api(
        "POST",
        "/v1/checkout/sessions",
        {
            "mode": "subscription",
            "success_url": "http://127.0.0.1:9/ok",
            "line_items[0][price]": price["id"],
            "line_items[0][quantity]": "2",
        },
    ).json()
    items = stripe_standin.api("GET", f"/v1/checkout/sessions/{session['id']}/line_items").json()["data"]
    assert [(i["price"]["id"], i["quantity"], i["amount_total"]) for i in items] == [(price["id"], 2, 2000)]
    assert session["amount_total"] == 2000 and "line_items" not in session


def test_expired_session_cannot_be_paid(gateway, stripe_standin, webhook_receiver):
    session = new_session(gateway)
    expired = gateway.expire_checkout_session(session.id, idempotency_key="expire-1")
    assert expired.status == "expired"
    assert http("GET", session.url).status == 410
    assert stripe_standin.pay(session.url).status == 410
    webhook_receiver.wait_for("checkout.session.expired", object_id=session.id)
    with pytest.raises(GatewayError):
        gateway.expire_checkout_session(session.id, idempotency_key="expire-2")


def test_idempotency_key_replays_the_first_result(gateway, stripe_standin):
    first = new_session(gateway, key="intent-7")
    again = new_session(gateway, key="intent-7")
    assert again.id == first.id
    assert new_session(gateway, key="intent-8").id != first.id
    with pytest.raises(IdempotencyKeyReused):
        new_session(gateway, key="intent-7", amount_yen=5000)
    key = {"Idempotency-Key": "customer-1"}
    created = stripe_standin.api("POST", "/v1/customers", {"email": "x@example.jp"}, key)
    replayed = stripe_standin.api("POST", "/v1/customers", {"email": "x@example.jp"}, key)
    assert replayed.headers.get("Idempotent-Replayed") == "true" and replayed.json()["id"] == created.json()["id"]
    assert len(stripe_standin.api("GET", "/v1/customers").json()["data"]) == 1


def test_partial_then_full_refund_and_its_events(gateway, stripe_standin, webhook_receiver):
    session = new_session(gateway)
    stripe_standin.pay(session.url)
    intent = gateway.retrieve_payment_intent(gateway.retrieve_checkout_session(session.id).payment_intent_id)

    partial = {
        "charge_or_payment_intent": intent.id,
        "amount_yen": 1000,
        "idempotency_key": "rf-1",
        "reason_metadata": {"approved_by": "admin-1"},
    }
    first = gateway.create_refund(**partial)
    assert (first.amount_yen, first.charge_id, first.metadata) == (1000, intent.charge_id, {"approved_by": "admin-1"})
    assert gateway.create_refund(**partial).id == first.id  # a retry, not a second refund
    assert gateway.retrieve_charge(intent.charge_id).amount_refunded_yen == 1000

    with pytest.raises(GatewayError) as too_much:
        gateway.create_refund(charge_or_payment_intent=intent.charge_id, amount_yen=2001, idempotency_key="rf-x")
    assert too_much.value.code == "amount_too_large"

    gateway.create_refund(charge_or_payment_intent=intent.charge_id, amount_yen=None, idempotency_key="rf-2")
    charge = gateway.retrieve_charge(intent.charge_id)
    assert (charge.amount_refunded_yen, charge.refunded) == (3000, True)

    deltas = sorted(
        (gateway.verify_webhook(d.body, d.signature) for d in _deliveries(webhook_receiver, "charge.refunded", 2)),
        key=lambda e: e.data_object["amount_refunded"],
    )
    assert [(e.previous_attributes["amount_refunded"], e.data_object["amount_refunded"]) for e in deltas] == [
        (0, 1000),
        (1000, 3000),
    ]


def test_send_event_renewals_and_disputes(gateway, stripe_standin, webhook_receiver):
    session = new_session(gateway, amount_yen=1000, mode="subscription")
    stripe_standin.pay(session.url)
    done = gateway.retrieve_checkout_session(session.id)
    first = gateway.retrieve_invoice(done.invoice_id)

    renewal = gateway.retrieve_invoice(stripe_standin.renew(done.subscription_id)["id"])
    assert (renewal.status, renewal.billing_reason, renewal.amount_paid_yen) == ("paid", "subscription_cycle", 1000)
    assert renewal.period_start_at == first.period_end_at and renewal.charge_id not in (None, first.charge_id)
    webhook_receiver.wait_for("invoice.paid", object_id=renewal.id)

    failed = stripe_standin.renew(done.subscription_id, outcome="failed")
    assert failed["status"] == "open"
    webhook_receiver.wait_for("invoice.payment_failed", object_id=failed["id"])
    assert gateway.retrieve_subscription(done.subscription_id).status == "past_due"

    resent = stripe_standin.send_event("invoice.paid", first.id)
    assert resent["data"]["object"]["id"] == first.id
    webhook_receiver.wait_for("invoice.paid", event_id=resent["id"])

    dispute = stripe_standin.open_dispute(first.charge_id, reason="fraudulent")
    opened = webhook_receiver.wait_for("charge.dispute.created", object_id=dispute["id"])
    assert opened.event["data"]["object"]["charge"] == first.charge_id
    assert gateway.retrieve_charge(first.charge_id).disputed
    stripe_standin.close_dispute(dispute["id"], "won")
    closed = gateway.verify_webhook(*_raw(webhook_receiver.wait_for("charge.dispute.closed")))
    assert (closed.data_object["status"], closed.previous_attributes) == ("won", {"status": "needs_response"})
    assert gateway.retrieve_dispute(dispute["id"]).status == "won"


def test_runs_on_loopback_and_writes_nothing_to_disk(gateway, stripe_standin):
    assert stripe_standin.server._sock.getsockname()[0] == "127.0.0.1"
    pickle = os.path.join(tempfile.gettempdir(), "localstripe.pickle")
    before = os.stat(pickle).st_mtime_ns if os.path.exists(pickle) else None
    stripe_standin.pay(new_session(gateway).url)
    assert (os.stat(pickle).st_mtime_ns if os.path.exists(pickle) else None) == before


def _raw(delivery) -> tuple[bytes, str]:
    return delivery.body, delivery.signature


def _deliveries(receiver, event_type: str, count: int) -> list:
    wait_until(lambda: len(receiver.of_type(event_type)) >= count)
    return receiver.of_type(event_type)
