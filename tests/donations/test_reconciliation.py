"""The daily reconciliation replays missed webhooks through the same handler, exactly once, and
settles gifts still pending (payments.md §7, privacy-and-security.md §4 A15)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from kyodo_fund.db import utcnow
from kyodo_fund.donations.models import Donation, DonationStatus, StripeEvent
from kyodo_fund.donations.reconciliation import reconcile_stripe
from kyodo_fund.jobs.schedule import find
from kyodo_fund.ledger.models import LedgerGroup
from kyodo_fund.projects.models import Project
from tests.donations.giving_support import count, donation_by_session, give, post_delivery
from tests.factories import make_org, make_project


@pytest.fixture
def project(db_session):
    project = make_project(db_session, make_org(db_session))
    db_session.commit()
    return project


def test_reconcile_job_is_scheduled_daily_at_three_tokyo_time():
    job = find("donations.reconcile_stripe")
    assert (job.trigger, job.trigger_args) == ("cron", {"hour": 3, "minute": 0})
    assert job.func == "kyodo_fund.donations.reconciliation:reconcile_stripe"


def test_a_missed_webhook_is_replayed_exactly_once(
    app, app_ctx, app_gateway, client, db_session, project, stripe_standin, webhook_receiver
):
    checkout_url = give(client, project, preset="5000").headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    donation = donation_by_session(db_session, checkout_url)
    webhook_receiver.wait_for("checkout.session.completed", object_id=donation.stripe_checkout_session_id)
    # The webhook never reached us, and the donor closed the tab before the success page.

    first = reconcile_stripe(db_session, app.config, gateway=app_gateway)
    assert (first["replayed"], first["failed"]) == (1, 0)
    db_session.expire_all()
    assert db_session.get(Donation, donation.id).status == DonationStatus.PAID
    assert count(db_session, LedgerGroup, LedgerGroup.donation_id == donation.id) == 1
    replayed = count(db_session, StripeEvent, StripeEvent.source == "reconciliation")
    assert replayed == first["replayed"]

    second = reconcile_stripe(db_session, app.config, gateway=app_gateway)
    assert second["replayed"] == 0 and second["fulfilled"] == 0
    assert count(db_session, LedgerGroup, LedgerGroup.donation_id == donation.id) == 1
    assert db_session.get(Project, project.id).raised_yen == 5000

    # The late webhook itself now changes nothing either.
    delivery = webhook_receiver.wait_for("checkout.session.completed", object_id=donation.stripe_checkout_session_id)
    assert post_delivery(client, delivery).status_code == 200
    db_session.expire_all()
    assert db_session.get(Project, project.id).raised_yen == 5000


def test_events_already_received_are_not_replayed(
    app, app_ctx, app_gateway, client, db_session, project, stripe_standin, webhook_receiver
):
    checkout_url = give(client, project).headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    donation = donation_by_session(db_session, checkout_url)
    for delivery in [
        webhook_receiver.wait_for("checkout.session.completed", object_id=donation.stripe_checkout_session_id)
    ]:
        assert post_delivery(client, delivery).status_code == 200
    result = reconcile_stripe(db_session, app.config, gateway=app_gateway)
    assert result["replayed"] == 0 and result["failed"] == 0
    assert count(db_session, StripeEvent) == 1


def test_a_session_stripe_cannot_find_is_reported_and_the_rest_carries_on(
    app, app_ctx, app_gateway, client, db_session, project, stripe_standin
):
    paid_url = give(client, project, preset="3000").headers["Location"]
    open_url = give(client, project, preset="10000").headers["Location"]
    assert stripe_standin.pay(paid_url).status == 303
    paid, still_open = donation_by_session(db_session, paid_url), donation_by_session(db_session, open_url)
    stripe_standin.reset()  # Stripe "forgot" nothing, but no events are listed any more: only the sweep can help
    db_session.execute(
        update(Donation).values(created_at=utcnow() - timedelta(hours=2)).execution_options(synchronize_session=False)
    )
    result = reconcile_stripe(db_session, app.config, gateway=app_gateway)
    # Both sessions are gone from the stand-in after the reset: each lookup fails on its own.
    assert result["failed"] == 2 and result["fulfilled"] == 0
    db_session.expire_all()
    assert {db_session.get(Donation, d.id).status for d in (paid, still_open)} == {DonationStatus.PENDING}


def test_pending_gift_paid_on_stripe_is_fulfilled_by_the_sweep(
    app, app_ctx, app_gateway, client, db_session, project, stripe_standin
):
    paid_url = give(client, project, preset="3000").headers["Location"]
    open_url = give(client, project, preset="10000").headers["Location"]
    fresh_url = give(client, project, preset="5000").headers["Location"]
    assert stripe_standin.pay(paid_url).status == 303
    assert stripe_standin.pay(fresh_url).status == 303
    paid = donation_by_session(db_session, paid_url)
    still_open = donation_by_session(db_session, open_url)
    fresh = donation_by_session(db_session, fresh_url)
    # Only what the events cannot tell: pretend the event list is empty.
    app_gateway_list = app_gateway.list_events
    app_gateway.list_events = lambda **kwargs: iter(())
    try:
        db_session.execute(
            update(Donation)
            .where(Donation.id.in_([paid.id, still_open.id]))
            .values(created_at=utcnow() - timedelta(hours=2))
            .execution_options(synchronize_session=False)
        )
        result = reconcile_stripe(db_session, app.config, gateway=app_gateway)
    finally:
        app_gateway.list_events = app_gateway_list
    assert (result["fulfilled"], result["unchanged"], result["failed"]) == (1, 1, 0)
    db_session.expire_all()
    assert db_session.get(Donation, paid.id).status == DonationStatus.PAID
    assert db_session.get(Donation, still_open.id).status == DonationStatus.PENDING
    assert db_session.get(Donation, fresh.id).status == DonationStatus.PENDING, (
        "younger than an hour: left to the webhook"
    )


def test_an_expired_session_releases_its_pending_gift(
    app, app_ctx, app_gateway, client, db_session, project, webhook_receiver
):
    checkout_url = give(client, project).headers["Location"]
    donation = donation_by_session(db_session, checkout_url)
    app_gateway.expire_checkout_session(donation.stripe_checkout_session_id, idempotency_key="expire-test")
    delivery = webhook_receiver.wait_for("checkout.session.expired", object_id=donation.stripe_checkout_session_id)
    assert post_delivery(client, delivery).status_code == 200
    db_session.expire_all()
    assert db_session.get(Donation, donation.id).status == DonationStatus.EXPIRED


def test_the_job_runner_runs_it_and_records_the_counts(
    app, app_ctx, app_gateway, client, db_session, project, stripe_standin
):
    from kyodo_fund.jobs.models import RunStatus
    from kyodo_fund.jobs.runner import run_job_in

    checkout_url = give(client, project).headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    run = run_job_in(db_session, app.config, "donations.reconcile_stripe", holder="test")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.counts["replayed"] == 1 and run.counts["failed"] == 0
    db_session.expire_all()
    assert donation_by_session(db_session, checkout_url).status == DonationStatus.PAID
