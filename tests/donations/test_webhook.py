"""The Stripe webhook (payments.md W1–W7, privacy-and-security.md §4 A2–A5, A8, A10, A11): signatures
on the raw body, the time window both ways, secret rotation, livemode, dedupe by event id, a crash
half-way, unknown types, and subscription events in any order."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from kyodo_fund.donations.models import Donation, DonationStatus, RecurringDonation, RecurringStatus, StripeEvent
from kyodo_fund.ledger.models import LedgerGroup
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.projects.models import Project
from tests.donations.giving_support import (
    WEBHOOK,
    count,
    donation_by_session,
    event_payload,
    event_rows,
    give,
    post_delivery,
    post_signed,
)
from tests.factories import make_org, make_project


@pytest.fixture
def project(db_session):
    project = make_project(db_session, make_org(db_session))
    db_session.commit()
    return project


@pytest.fixture
def paid_checkout(app_gateway, client, db_session, project, stripe_standin, webhook_receiver):
    """A one-off ¥3,000 gift paid on the pay page; the donor never came back. Returns (donation, delivery)."""
    checkout_url = give(client, project).headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    donation = donation_by_session(db_session, checkout_url)
    delivery = webhook_receiver.wait_for("checkout.session.completed", object_id=donation.stripe_checkout_session_id)
    return donation, delivery


def _state(db_session, donation_id: int) -> tuple:
    db_session.expire_all()
    return (
        db_session.get(Donation, donation_id).status,
        count(db_session, LedgerGroup, LedgerGroup.donation_id == donation_id),
        event_rows(db_session),
    )


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body, sig: (body.replace(b'"livemode": false', b'"livemode": true '), sig), id="body"),
        pytest.param(lambda body, sig: (body, sig.replace("v1=", "v1=0")), id="signature"),
        pytest.param(lambda body, sig: (body, ""), id="no-header"),
        pytest.param(lambda body, sig: (body, sig.replace("t=", "t=1")), id="timestamp"),
    ],
)
def test_tampered_deliveries_are_refused_and_write_nothing(client, db_session, paid_checkout, tamper):
    donation, delivery = paid_checkout
    body, signature = tamper(delivery.body, delivery.signature)
    assert body != delivery.body or signature != delivery.signature
    response = client.post(WEBHOOK, data=body, headers={"Stripe-Signature": signature}, content_type="application/json")
    assert response.status_code == 400
    assert _state(db_session, donation.id) == (DonationStatus.PENDING, 0, 0)


@pytest.mark.parametrize(("age", "status"), [(301, 400), (299, 200), (-600, 400), (-290, 200)])
def test_signatures_are_accepted_only_within_300_seconds_either_way(client, db_session, paid_checkout, age, status):
    donation, delivery = paid_checkout
    response = post_signed(client, delivery.body, signed_at=int(time.time()) - age)
    assert response.status_code == status
    if status == 400:
        assert _state(db_session, donation.id) == (DonationStatus.PENDING, 0, 0)
    else:
        assert _state(db_session, donation.id) == (DonationStatus.PAID, 1, 1)


def test_old_and_new_secrets_both_work_during_rotation(app, client, db_session, paid_checkout):
    donation, delivery = paid_checkout
    app.config["STRIPE_WEBHOOK_SECRETS"] = ["whsec_new_one"]
    app.extensions.pop("kyodo_fund.stripe_gateway", None)
    assert post_signed(client, delivery.body, secret="whsec_new_one").status_code == 200
    assert post_signed(client, delivery.body, secret="whsec_unknown").status_code == 400
    assert _state(db_session, donation.id) == (DonationStatus.PAID, 1, 1)


def test_the_same_event_five_times_in_a_row_is_applied_once(client, db_session, paid_checkout, send_mail, mailbox):
    donation, delivery = paid_checkout
    for _ in range(5):
        assert post_delivery(client, delivery).status_code == 200
    assert _state(db_session, donation.id) == (DonationStatus.PAID, 1, 1)
    assert db_session.get(Project, donation.project_id).raised_yen == 3000
    assert send_mail()["sent"] == 1
    assert len(mailbox) == 1


def test_a_crash_half_way_rolls_everything_back_and_the_redelivery_works(
    client, db_session, paid_checkout, monkeypatch
):
    from kyodo_fund.donations import fulfilment

    donation, delivery = paid_checkout
    donation_id, project_id = donation.id, donation.project_id  # the failed request's rollback expires objects
    real = fulfilment.post_donation
    calls = []

    def fail_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away mid-request")
        return real(*args, **kwargs)

    monkeypatch.setattr(fulfilment, "post_donation", fail_once)
    assert post_delivery(client, delivery).status_code == 500
    assert _state(db_session, donation_id) == (DonationStatus.PENDING, 0, 0), "not even the event id stays"
    assert count(db_session, OutboxMessage) == 0
    assert post_delivery(client, delivery).status_code == 200
    assert _state(db_session, donation_id) == (DonationStatus.PAID, 1, 1)
    assert db_session.get(Project, project_id).raised_yen == 3000


def test_unknown_event_types_are_acknowledged_without_effects(app_gateway, client, db_session, project):
    before = (count(db_session, Donation), count(db_session, LedgerGroup), count(db_session, OutboxMessage))
    response = post_signed(client, event_payload("customer.created", {"id": "cus_123", "object": "customer"}))
    assert response.status_code == 200
    db_session.expire_all()
    assert (count(db_session, Donation), count(db_session, LedgerGroup), count(db_session, OutboxMessage)) == before
    assert db_session.get(Project, project.id).raised_yen == 0


def test_events_of_the_other_mode_are_ignored(client, db_session, paid_checkout):
    donation, delivery = paid_checkout
    live_body = delivery.body.replace(b'"livemode": false', b'"livemode": true')
    assert live_body != delivery.body
    assert post_signed(client, live_body).status_code == 200
    assert _state(db_session, donation.id) == (DonationStatus.PENDING, 0, 0)


def test_only_the_webhook_is_csrf_exempt(app):
    from kyodo_fund.extensions import csrf

    assert set(csrf._exempt_views) == {"kyodo_fund.donations.webhook.stripe_webhook"}
    assert app.view_functions["donations.stripe_webhook"].__module__ == "kyodo_fund.donations.webhook"


# --- monthly giving: events in any order (payments.md O1/O2) ------------------------------------


@pytest.fixture
def paid_subscription(app_gateway, client, db_session, project, stripe_standin, webhook_receiver):
    """A ¥1,000 monthly gift paid on the pay page; no webhook applied yet. Returns (first donation, subscription id)."""
    checkout_url = give(client, project, preset="custom", custom="1000", monthly=True).headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    first = donation_by_session(db_session, checkout_url)
    completed = webhook_receiver.wait_for("checkout.session.completed", object_id=first.stripe_checkout_session_id)
    return first, completed.event["data"]["object"]["subscription"]


def _subscription_event(stripe_standin, event_type: str, subscription_id: str, created: int) -> bytes:
    subscription = stripe_standin.api("GET", f"/v1/subscriptions/{subscription_id}").json()
    return event_payload(event_type, subscription, created=created)


def test_subscription_updated_before_created(client, db_session, paid_subscription, stripe_standin):
    first, subscription_id = paid_subscription
    now = int(time.time())
    updated = _subscription_event(stripe_standin, "customer.subscription.updated", subscription_id, now)
    created = _subscription_event(stripe_standin, "customer.subscription.created", subscription_id, now - 5)
    assert post_signed(client, updated).status_code == 200
    assert post_signed(client, created).status_code == 200
    db_session.expire_all()
    recurring = db_session.get(RecurringDonation, first.recurring_id)
    assert recurring.stripe_subscription_id == subscription_id
    assert recurring.status == RecurringStatus.ACTIVE, "the older 'created' did not set it back"
    assert recurring.last_event_created == now
    assert count(db_session, Donation, Donation.recurring_id == recurring.id) == 1


def test_invoice_paid_before_subscription_created_and_checkout_completed(
    client, db_session, paid_subscription, webhook_receiver
):
    first, subscription_id = paid_subscription
    order = ("invoice.paid", "customer.subscription.created", "checkout.session.completed", "invoice.payment_succeeded")
    for kind in order:
        assert post_delivery(client, webhook_receiver.wait_for(kind)).status_code == 200
        db_session.expire_all()
        assert count(db_session, Donation, Donation.recurring_id == first.recurring_id) == 1, kind
    donation = db_session.get(Donation, first.id)
    recurring = db_session.get(RecurringDonation, first.recurring_id)
    assert donation.status == DonationStatus.PAID and donation.stripe_invoice_id
    assert (recurring.status, recurring.stripe_subscription_id) == (RecurringStatus.ACTIVE, subscription_id)
    assert count(db_session, LedgerGroup, LedgerGroup.donation_id == donation.id) == 1


def test_a_subscription_unknown_here_is_built_from_stripe_on_its_first_paid_invoice(
    app_gateway, client, db_session, project, stripe_standin, webhook_receiver
):
    api = stripe_standin.api
    price = api(
        "POST",
        "/v1/prices",
        {"currency": "jpy", "unit_amount": "2000", "recurring[interval]": "month", "product_data[name]": "毎月の寄附"},
    ).json()
    card = {"payment_method": "pm_card_visa", "invoice_settings[default_payment_method]": "pm_card_visa"}
    customer = api("POST", "/v1/customers", {"email": "elsewhere@example.jp", **card}).json()
    subscription = api(
        "POST",
        "/v1/subscriptions",
        # localstripe takes a recurring price as a legacy plan of the same id
        {"customer": customer["id"], "items[0][plan]": price["id"], "metadata[project]": str(project.id)},
    ).json()
    assert subscription["status"] == "active", subscription
    invoice_id = subscription["latest_invoice"]
    stripe_standin.send_event("invoice.paid", invoice_id)
    assert post_delivery(client, webhook_receiver.wait_for("invoice.paid", object_id=invoice_id)).status_code == 200
    db_session.expire_all()
    recurring = db_session.scalar(
        select(RecurringDonation).where(RecurringDonation.stripe_subscription_id == subscription["id"])
    )
    assert (recurring.project_id, recurring.amount_yen, recurring.donor_email) == (
        project.id,
        2000,
        "elsewhere@example.jp",
    )
    (gift,) = db_session.scalars(select(Donation).where(Donation.recurring_id == recurring.id))
    assert (gift.status, gift.stripe_invoice_id, gift.amount_yen) == (DonationStatus.PAID, invoice_id, 2000)


def test_a_failed_monthly_charge_tells_the_donor_once(
    client, db_session, paid_subscription, stripe_standin, webhook_receiver
):
    first, subscription_id = paid_subscription
    assert post_delivery(client, webhook_receiver.wait_for("invoice.paid")).status_code == 200
    invoice = stripe_standin.renew(subscription_id, outcome="failed")
    delivery = webhook_receiver.wait_for("invoice.payment_failed", object_id=invoice["id"])
    for _ in range(2):
        assert post_delivery(client, delivery).status_code == 200
    resent = event_payload("invoice.payment_failed", delivery.event["data"]["object"])  # same invoice, new event id
    assert post_signed(client, resent).status_code == 200
    db_session.expire_all()
    mails = list(db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "donation_payment_failed")))
    assert [m.to_address for m in mails] == ["hanako@example.jp"]
    assert db_session.get(RecurringDonation, first.recurring_id).status == RecurringStatus.PAST_DUE
    assert count(db_session, Donation, Donation.recurring_id == first.recurring_id) == 1
    assert count(db_session, StripeEvent, StripeEvent.type == "invoice.payment_failed") == 2
