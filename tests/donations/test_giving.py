"""Giving end to end against the Stripe stand-in: the form, Checkout, the pay page, the success
page's fulfilment, the ledger, the project's counters, the thank-you mail, and the webhook that
arrives afterwards and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kyodo_fund.donations.models import (
    Donation,
    DonationKind,
    DonationStatus,
    ReceiptPreference,
    RecurringDonation,
    RecurringStatus,
    StripeEvent,
)
from kyodo_fund.ledger.models import LedgerGroup
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.projects.models import Project
from tests.donations.giving_support import (
    count,
    donation_by_session,
    give,
    groups_of,
    lines_of,
    pay_and_return,
    post_delivery,
)
from tests.factories import make_org, make_project, make_user


@pytest.fixture
def project(db_session):
    project = make_project(db_session, make_org(db_session), goal_yen=300_000)
    db_session.commit()  # each request ends its session; only committed rows outlive it
    return project


@pytest.fixture
def stripe_client(app_gateway, client):
    return client


def test_one_off_gift_end_to_end(
    stripe_client, db_session, project, stripe_standin, webhook_receiver, send_mail, mailbox
):
    client = stripe_client
    started = give(client, project, preset="3000")
    assert started.status_code == 303
    checkout_url = started.headers["Location"]
    assert checkout_url.startswith(stripe_standin.base_url + "/pay/cs_test_")
    donation = donation_by_session(db_session, checkout_url)
    assert (donation.status, donation.amount_yen, donation.kind) == (DonationStatus.PENDING, 3000, DonationKind.ONE_OFF)
    assert donation.idempotency_key and donation.receipt_preference == ReceiptPreference.PER_DONATION
    assert donation.donor_name == "信州 花子" and donation.user_id is None

    thanks = pay_and_return(client, stripe_standin, checkout_url)
    assert thanks.status_code == 200
    assert "ご寄附ありがとうございます" in thanks.get_data(as_text=True)
    assert f"/projects/{project.slug}" in thanks.get_data(as_text=True)

    db_session.expire_all()
    donation = db_session.get(Donation, donation.id)
    assert donation.status == DonationStatus.PAID
    assert donation.paid_at is not None and donation.received_on is not None
    assert donation.stripe_payment_intent_id.startswith("pi_") and donation.stripe_charge_id.startswith("ch_")
    # The stand-in's balance transaction carries Stripe's 3.6 % fee: ¥108 on ¥3,000.
    assert (donation.processor_fee_yen, donation.platform_fee_yen) == (108, 300)

    (group,) = groups_of(db_session, donation.id)
    assert group.source_ref == donation.stripe_charge_id
    lines = lines_of(db_session, group)
    assert sum(amount for _, amount in lines) == 0
    assert sorted(lines) == sorted(
        [
            ("stripe:clearing", 3000),
            ("fees:processor", 108),
            ("stripe:clearing", -108),
            ("fees:platform", -300),
            (f"fund:project:{project.id}", -2700),
        ]
    )
    project = db_session.get(Project, project.id)
    assert (project.raised_yen, project.donor_count) == (3000, 1)

    assert send_mail()["sent"] == 1
    (mail,) = [m for m in mailbox if m["To"] == "hanako@example.jp"]
    assert "ご寄附ありがとうございます" in mail["Subject"] and "¥3,000" in mail["Subject"]
    assert project.title in mail.get_body(("plain",)).get_content()

    # Stripe's webhook arrives after the donor came back: it is recorded and changes nothing.
    delivery = webhook_receiver.wait_for("checkout.session.completed", object_id=donation.stripe_checkout_session_id)
    assert post_delivery(client, delivery).status_code == 200
    db_session.expire_all()
    assert count(db_session, StripeEvent, StripeEvent.id == delivery.event["id"]) == 1
    assert count(db_session, LedgerGroup, LedgerGroup.donation_id == donation.id) == 1
    assert count(db_session, OutboxMessage, OutboxMessage.dedupe_key == f"thanks:{donation.id}") == 1
    assert db_session.get(Project, project.id).raised_yen == 3000
    assert client.get(f"/projects/{project.slug}").get_data(as_text=True).count("¥3,000") >= 1


def test_webhook_alone_fulfils_when_the_donor_never_comes_back(
    stripe_client, db_session, project, stripe_standin, webhook_receiver
):
    checkout_url = give(stripe_client, project, preset="custom", custom="12,345").headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    donation = donation_by_session(db_session, checkout_url)
    delivery = webhook_receiver.wait_for("checkout.session.completed", object_id=donation.stripe_checkout_session_id)
    assert post_delivery(stripe_client, delivery).status_code == 200
    db_session.expire_all()
    donation = db_session.get(Donation, donation.id)
    assert (donation.status, donation.amount_yen) == (DonationStatus.PAID, 12345)
    assert db_session.get(Project, project.id).raised_yen == 12345


def test_thanks_page_never_fulfils_an_unpaid_session(stripe_client, db_session, project, stripe_standin):
    checkout_url = give(stripe_client, project).headers["Location"]
    donation = donation_by_session(db_session, checkout_url)
    # A forged return: the right path, a made-up session id in the query.
    page = stripe_client.get(f"/donations/{donation.public_id}/thanks?session_id=cs_test_forged")
    assert page.status_code == 200
    assert "お支払いを確認しています" in page.get_data(as_text=True)
    # A declined card leaves the session open and unpaid: still nothing.
    assert stripe_standin.pay(checkout_url, action="decline").status == 402
    stripe_client.get(f"/donations/{donation.public_id}/thanks?session_id={donation.stripe_checkout_session_id}")
    db_session.expire_all()
    assert db_session.get(Donation, donation.id).status == DonationStatus.PENDING
    assert count(db_session, LedgerGroup, LedgerGroup.donation_id == donation.id) == 0
    assert db_session.get(Project, project.id).raised_yen == 0


def test_unknown_thanks_page_is_404(client):
    assert client.get("/donations/0123456789abcdef0123456789abcdef/thanks").status_code == 404


def test_signed_in_donor_gets_a_prefilled_form_and_owns_the_gift(app, app_gateway, db_session, project, stripe_standin):
    from tests.donations.giving_support import signed_in_client

    user = make_user(db_session, "taro@example.jp", name="長野 太郎", name_kana="ナガノ タロウ", address="長野市1-1")
    client = signed_in_client(app, db_session, user)
    page = client.get(f"/projects/{project.slug}/donate").get_data(as_text=True)
    assert 'value="長野 太郎"' in page and 'value="taro@example.jp"' in page and 'value="長野市1-1"' in page
    checkout_url = give(client, project, email="taro@example.jp").headers["Location"]
    pay_and_return(client, stripe_standin, checkout_url)
    donation = donation_by_session(db_session, checkout_url)
    assert donation.user_id == user.id and donation.status == DonationStatus.PAID


def test_monthly_gift_first_and_second_instalment(stripe_client, db_session, project, stripe_standin, webhook_receiver):
    client = stripe_client
    checkout_url = give(client, project, preset="custom", custom="1000", monthly=True).headers["Location"]
    first = donation_by_session(db_session, checkout_url)
    recurring = db_session.get(RecurringDonation, first.recurring_id)
    assert (first.kind, recurring.status, recurring.amount_yen) == (
        DonationKind.MONTHLY,
        RecurringStatus.INCOMPLETE,
        1000,
    )
    assert first.receipt_preference == ReceiptPreference.ANNUAL, "monthly giving defaults to one annual receipt"

    assert pay_and_return(client, stripe_standin, checkout_url).status_code == 200
    db_session.expire_all()
    first = db_session.get(Donation, first.id)
    recurring = db_session.get(RecurringDonation, recurring.id)
    assert first.status == DonationStatus.PAID and first.stripe_invoice_id.startswith("in_")
    assert recurring.status == RecurringStatus.ACTIVE and recurring.stripe_subscription_id.startswith("sub_")

    # The webhooks of the first invoice (both types) and of Checkout: still one gift.
    for kind in ("checkout.session.completed", "invoice.paid", "invoice.payment_succeeded"):
        for delivery in webhook_receiver.of_type(kind) or [webhook_receiver.wait_for(kind)]:
            assert post_delivery(client, delivery).status_code == 200
    db_session.expire_all()
    assert count(db_session, Donation, Donation.recurring_id == recurring.id) == 1

    # A month later Stripe bills again: a second, separate gift keyed by the new invoice.
    renewal = stripe_standin.renew(recurring.stripe_subscription_id)
    delivery = webhook_receiver.wait_for("invoice.paid", object_id=renewal["id"])
    assert post_delivery(client, delivery).status_code == 200
    assert post_delivery(client, delivery).status_code == 200
    db_session.expire_all()
    gifts = list(
        db_session.scalars(select(Donation).where(Donation.recurring_id == recurring.id).order_by(Donation.id))
    )
    assert [(g.status, g.amount_yen) for g in gifts] == [(DonationStatus.PAID, 1000), (DonationStatus.PAID, 1000)]
    assert gifts[1].stripe_invoice_id == renewal["id"] and gifts[1].donor_email == "hanako@example.jp"
    assert all(count(db_session, LedgerGroup, LedgerGroup.donation_id == g.id) == 1 for g in gifts)
    project = db_session.get(Project, project.id)
    assert (project.raised_yen, project.donor_count) == (2000, 1), "the same donor counts once"


def test_gateway_error_rerenders_the_form_and_charges_nothing(app, client, db_session, project, stripe_standin):
    app.config.update(STRIPE_SECRET_KEY="", STRIPE_API_BASE="http://127.0.0.1:9", STRIPE_WEBHOOK_SECRET="whsec_x")
    app.extensions.pop("kyodo_fund.stripe_gateway", None)
    try:
        response = give(client, project)
    finally:
        app.extensions.pop("kyodo_fund.stripe_gateway", None)
    assert response.status_code == 200
    assert "決済サービスに接続できませんでした" in response.get_data(as_text=True)
    assert count(db_session, Donation) == 0


@pytest.mark.parametrize(
    ("settings", "origin"),
    [
        ({"STRIPE_SECRET_KEY": "", "STRIPE_API_BASE": "http://127.0.0.1:8555/"}, "http://127.0.0.1:8555"),
        ({"STRIPE_SECRET_KEY": "sk_test_not_real"}, "https://checkout.stripe.com"),
    ],
)
def test_checkout_origin_is_in_the_csp_form_action(database_url, settings, origin):
    from kyodo_fund.factory import create_app

    other = create_app("testing", overrides={"DATABASE_URL": database_url, **settings})
    csp = other.test_client().get("/").headers["Content-Security-Policy"]
    form_action = csp.split("form-action", 1)[1].split(";", 1)[0].split()
    assert form_action == ["'self'", origin]
    other.extensions["kyodo_db_engine"].dispose()
