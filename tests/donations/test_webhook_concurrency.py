"""The same event delivered five times at once, while the donor's browser also loads the success
page: one fulfilment, no 500 (privacy-and-security.md §4 A6, A7). Needs PostgreSQL's row locks."""

from __future__ import annotations

import threading

from sqlalchemy import select

from kyodo_fund.donations.models import Donation, DonationStatus, StripeEvent
from kyodo_fund.ledger.models import LedgerGroup
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.projects.models import Project
from tests.conftest import requires_postgres
from tests.donations.giving_support import count, donation_by_session, give, post_delivery
from tests.factories import make_org, make_project


def _all_at_once(calls: list, timeout: float = 30) -> list:
    """Run every call in its own thread, released together; returns what each returned."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = calls[n]()
        except BaseException as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), f"still running after {timeout} s (a deadlock?)"
    return results


def test_five_concurrent_deliveries_and_the_success_page_fulfil_once(
    app, app_gateway, committed_db, stripe_standin, webhook_receiver
):
    requires_postgres(app)
    session = committed_db
    project = make_project(session, make_org(session))
    session.commit()
    checkout_url = give(app.test_client(), project, preset="3000").headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    donation = donation_by_session(session, checkout_url)
    delivery = webhook_receiver.wait_for("checkout.session.completed", object_id=donation.stripe_checkout_session_id)
    thanks = f"/donations/{donation.public_id}/thanks"

    # Each thread has its own client, request context and database connection, as in production.
    webhooks = [lambda: post_delivery(app.test_client(), delivery).status_code for _ in range(5)]
    pages = [lambda: app.test_client().get(thanks).status_code for _ in range(2)]
    assert _all_at_once(webhooks + pages) == [200] * 7

    session.expire_all()
    paid = session.scalars(select(Donation).where(Donation.project_id == project.id)).all()
    assert [d.status for d in paid] == [DonationStatus.PAID]
    assert count(session, LedgerGroup, LedgerGroup.donation_id == donation.id) == 1
    assert count(session, StripeEvent, StripeEvent.id == delivery.event["id"]) == 1
    assert count(session, OutboxMessage, OutboxMessage.dedupe_key == f"thanks:{donation.id}") == 1
    project = session.get(Project, project.id)
    assert (project.raised_yen, project.donor_count) == (3000, 1)


def test_first_invoice_events_at_once_make_one_monthly_gift(
    app, app_gateway, committed_db, stripe_standin, webhook_receiver
):
    requires_postgres(app)
    session = committed_db
    project = make_project(session, make_org(session))
    session.commit()
    checkout_url = give(app.test_client(), project, preset="custom", custom="1000", monthly=True).headers["Location"]
    assert stripe_standin.pay(checkout_url).status == 303
    first = donation_by_session(session, checkout_url)
    kinds = ("checkout.session.completed", "invoice.paid", "invoice.payment_succeeded", "customer.subscription.created")
    deliveries = [webhook_receiver.wait_for(kind) for kind in kinds]
    calls = [lambda d=d: post_delivery(app.test_client(), d).status_code for d in deliveries for _ in range(2)]
    assert _all_at_once(calls) == [200] * len(calls)
    session.expire_all()
    gifts = session.scalars(select(Donation).where(Donation.recurring_id == first.recurring_id)).all()
    assert [(g.id, g.status) for g in gifts] == [(first.id, DonationStatus.PAID)]
    assert count(session, LedgerGroup, LedgerGroup.donation_id == first.id) == 1
