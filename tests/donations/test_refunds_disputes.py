"""Refunds (by an administrator, and from Stripe's dashboard by webhook) and disputes opened then
closed won or lost, all against the stand-in (payments.md RF1–RF3, DS1–DS3)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import Donation, DonationStatus, RecurringDonation, RecurringStatus
from kyodo_fund.ledger.models import LedgerGroup, LedgerGroupKind
from kyodo_fund.ledger.services import project_balance
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.projects.models import Project
from tests.conftest import csrf_from
from tests.donations.giving_support import (
    count,
    donation_by_session,
    give,
    groups_of,
    lines_of,
    pay_and_return,
    post_delivery,
    signed_in_client,
)
from tests.factories import make_org, make_project, make_user


@pytest.fixture
def project(db_session):
    project = make_project(db_session, make_org(db_session))
    db_session.commit()
    return project


def _gift(client, db_session, project, stripe_standin, amount: str = "10000", monthly: bool = False) -> Donation:
    checkout_url = give(client, project, preset="custom", custom=amount, monthly=monthly).headers["Location"]
    assert pay_and_return(client, stripe_standin, checkout_url).status_code == 200
    donation = donation_by_session(db_session, checkout_url)
    assert donation.status == DonationStatus.PAID
    return donation


@pytest.fixture
def admin_client(app, app_gateway, db_session):
    admin = make_user(db_session, "admin@example.jp", role=UserRole.ADMIN)
    return signed_in_client(app, db_session, admin)


def _refund(client, donation, amount: str, reason: str = "寄附者からの申し出（二重送金）"):
    url = f"/admin/donations/{donation.public_id}/refund"
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    key = html.split('name="request_key" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_from(html), "amount": amount, "reason": reason, "request_key": key}
    return client.post(url, data=data), data


def _reload(db_session, donation_id: int) -> Donation:
    db_session.expire_all()
    return db_session.get(Donation, donation_id)


def test_admin_partial_then_full_refund(admin_client, client, db_session, project, stripe_standin, webhook_receiver):
    donation = _gift(client, db_session, project, stripe_standin)
    response, form = _refund(admin_client, donation, "3000")
    assert response.status_code == 302
    donation = _reload(db_session, donation.id)
    assert (donation.status, donation.refunded_yen, donation.receipt_needs_review) == (
        DonationStatus.PARTIALLY_REFUNDED,
        3000,
        True,
    )
    # The same form submitted again (a double click) reuses the idempotency key: no second refund.
    assert admin_client.post(f"/admin/donations/{donation.public_id}/refund", data=form).status_code == 302
    assert _reload(db_session, donation.id).refunded_yen == 3000

    # Stripe's own webhook about that refund arrives afterwards and changes nothing.
    delivery = webhook_receiver.wait_for("charge.refunded", object_id=donation.stripe_charge_id)
    assert post_delivery(client, delivery).status_code == 200
    assert post_delivery(client, webhook_receiver.wait_for("refund.created")).status_code == 200

    assert _refund(admin_client, donation, "7000")[0].status_code == 302
    donation = _reload(db_session, donation.id)
    assert (donation.status, donation.refunded_yen) == (DonationStatus.REFUNDED, 10000)

    groups = groups_of(db_session, donation.id)
    assert [g.kind for g in groups] == [LedgerGroupKind.DONATION, LedgerGroupKind.REFUND, LedgerGroupKind.REFUND]
    assert [g.source_ref for g in groups[1:]] == [
        f"{donation.stripe_charge_id}:refunded:3000",
        f"{donation.stripe_charge_id}:refunded:10000",
    ]
    clearing = [sum(a for k, a in lines_of(db_session, g) if k == "stripe:clearing") for g in groups[1:]]
    assert clearing == [-3000, -7000]
    assert all(sum(a for _, a in lines_of(db_session, g)) == 0 for g in groups)
    assert project_balance(db_session, project.id) == 0
    project = db_session.get(Project, project.id)
    assert (project.raised_yen, project.donor_count) == (0, 0)
    audit = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "donations.refund")).all()
    assert audit and audit[0].note == "寄附者からの申し出（二重送金）" and audit[0].actor_label == "admin@example.jp"


def test_refund_from_stripes_dashboard_arrives_by_webhook(
    client, db_session, project, stripe_standin, webhook_receiver
):
    donation = _gift(client, db_session, project, stripe_standin, amount="5000")
    made = stripe_standin.api("POST", "/v1/refunds", {"charge": donation.stripe_charge_id, "amount": "1000"})
    assert made.status == 200, made.text
    delivery = webhook_receiver.wait_for("charge.refunded", object_id=donation.stripe_charge_id)
    for _ in range(3):
        assert post_delivery(client, delivery).status_code == 200
    donation = _reload(db_session, donation.id)
    assert (donation.status, donation.refunded_yen, donation.receipt_needs_review) == (
        DonationStatus.PARTIALLY_REFUNDED,
        1000,
        True,
    )
    (refund,) = [g for g in groups_of(db_session, donation.id) if g.kind == LedgerGroupKind.REFUND]
    assert ("stripe:clearing", -1000) in lines_of(db_session, refund)
    assert db_session.get(Project, project.id).raised_yen == 4000
    assert db_session.get(Project, project.id).donor_count == 1


def test_refund_form_refuses_more_than_is_left_and_needs_a_reason(
    admin_client, client, db_session, project, stripe_standin
):
    donation = _gift(client, db_session, project, stripe_standin, amount="3000")
    too_much, _ = _refund(admin_client, donation, "3001")
    assert too_much.status_code == 200 and "3,000円まで" in too_much.get_data(as_text=True)
    no_reason, _ = _refund(admin_client, donation, "1000", reason="")
    assert no_reason.status_code == 200
    assert _reload(db_session, donation.id).refunded_yen == 0


@pytest.mark.parametrize("role", [None, UserRole.DONOR, UserRole.REVIEWER])
def test_refund_page_is_for_administrators_only(app, app_gateway, db_session, project, role):
    from tests.factories import make_donation

    donation = make_donation(db_session, project)
    if role is None:
        db_session.commit()
        response = app.test_client().get(f"/admin/donations/{donation.public_id}/refund")
        assert response.status_code == 302
        return
    client = signed_in_client(app, db_session, make_user(db_session, role=role))
    assert client.get(f"/admin/donations/{donation.public_id}/refund").status_code == 404


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_dispute_opened_then_closed(app, client, db_session, project, stripe_standin, webhook_receiver, outcome):
    admin = make_user(db_session, "alert@example.jp", role=UserRole.ADMIN)
    db_session.commit()
    donation = _gift(client, db_session, project, stripe_standin, amount="10000")
    dispute = stripe_standin.open_dispute(donation.stripe_charge_id)
    opened = webhook_receiver.wait_for("charge.dispute.created", object_id=dispute["id"])
    assert post_delivery(client, opened).status_code == 200
    assert post_delivery(client, opened).status_code == 200
    donation = _reload(db_session, donation.id)
    assert donation.status == DonationStatus.DISPUTED and donation.receipt_frozen
    assert project_balance(db_session, project.id) == 0, "the disputed money is held out of the project"
    alerts = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == "donation_dispute_alert")).all()
    assert [m.to_address for m in alerts] == [admin.email]

    stripe_standin.close_dispute(dispute["id"], outcome)
    closed = webhook_receiver.wait_for("charge.dispute.closed", object_id=dispute["id"])
    assert post_delivery(client, closed).status_code == 200
    assert post_delivery(client, closed).status_code == 200
    donation = _reload(db_session, donation.id)
    kinds = [g.kind for g in groups_of(db_session, donation.id)]
    project = db_session.get(Project, project.id)
    if outcome == "won":
        assert donation.status == DonationStatus.PAID and not donation.receipt_needs_review
        assert kinds == [LedgerGroupKind.DONATION, LedgerGroupKind.DISPUTE_HOLD, LedgerGroupKind.DISPUTE_RELEASE]
        assert project_balance(db_session, project.id) == 9000
        assert (project.raised_yen, project.donor_count) == (10000, 1)
    else:
        assert donation.status == DonationStatus.DISPUTE_LOST and donation.receipt_needs_review
        assert kinds == [LedgerGroupKind.DONATION, LedgerGroupKind.DISPUTE_HOLD, LedgerGroupKind.DISPUTE_REVERSE]
        reverse = groups_of(db_session, donation.id)[-1]
        assert ("fees:dispute", 1500) in lines_of(db_session, reverse)
        assert project_balance(db_session, project.id) == 0
        assert (project.raised_yen, project.donor_count) == (0, 0)


def test_a_disputed_instalment_stops_the_monthly_gift(client, db_session, project, stripe_standin, webhook_receiver):
    donation = _gift(client, db_session, project, stripe_standin, amount="1000", monthly=True)
    dispute = stripe_standin.open_dispute(donation.stripe_charge_id)
    assert (
        post_delivery(client, webhook_receiver.wait_for("charge.dispute.created", object_id=dispute["id"])).status_code
        == 200
    )
    db_session.expire_all()
    recurring = db_session.get(RecurringDonation, donation.recurring_id)
    assert recurring.status == RecurringStatus.CANCELED
    subscription = stripe_standin.api("GET", f"/v1/subscriptions/{recurring.stripe_subscription_id}").json()
    assert subscription["status"] == "canceled"
    assert count(db_session, LedgerGroup, LedgerGroup.kind == LedgerGroupKind.DISPUTE_HOLD) == 1
