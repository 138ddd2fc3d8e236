"""The donor's own pages: history, this year's total, monthly gifts stopped or changed through
Stripe, other people's gifts answering 404, and guest gifts claimed once the address is confirmed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import DonationStatus, RecurringDonation, RecurringStatus
from kyodo_fund.donations.services import claim_guest_donations, donor_recipients, year_total
from kyodo_fund.projects.reports import report_recipients
from tests.conftest import csrf_from
from tests.donations.giving_support import donation_by_session, give, pay_and_return, signed_in_client
from tests.factories import make_donation, make_org, make_project, make_user


@pytest.fixture
def project(db_session):
    project = make_project(db_session, make_org(db_session), title="子ども食堂をひらく")
    db_session.commit()
    return project


def test_dashboard_lists_only_the_users_own_gifts(app, db_session, project):
    me = make_user(db_session, "me@example.jp")
    other = make_user(db_session, "other@example.jp")
    mine = make_donation(db_session, project, user_id=me.id, amount_yen=5000)
    refunded = make_donation(
        db_session, project, user_id=me.id, amount_yen=2000, refunded_yen=500, status=DonationStatus.PARTIALLY_REFUNDED
    )
    theirs = make_donation(db_session, project, user_id=other.id, amount_yen=7777)
    client = signed_in_client(app, db_session, me)

    html = client.get("/me/donations").get_data(as_text=True)
    assert "¥5,000" in html and "¥2,000" in html and "¥7,777" not in html
    assert "子ども食堂をひらく" in html
    assert "¥6,500" in html, "this year's total is net of refunds"
    assert client.get(f"/me/donations/{mine.public_id}").status_code == 200
    assert client.get(f"/me/donations/{refunded.public_id}").status_code == 200
    assert client.get(f"/me/donations/{theirs.public_id}").status_code == 404
    assert client.get("/me/donations/ffffffffffffffffffffffffffffffff").status_code == 404
    assert year_total(db_session, me).total_yen == 6500


def test_dashboard_needs_a_login(client):
    response = client.get("/me/donations")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


def test_no_receipts_section_without_a_receipts_page(app, db_session):
    client = signed_in_client(app, db_session, make_user(db_session))
    html = client.get("/me/donations").get_data(as_text=True)
    assert ("receipts-heading" in html) == ("receipts.mine" in app.view_functions)


@pytest.fixture
def monthly(app, app_gateway, db_session, project, stripe_standin):
    """A signed-in donor with a paid ¥1,000 monthly gift. Returns (client, recurring id)."""
    user = make_user(db_session, "monthly@example.jp")
    client = signed_in_client(app, db_session, user)
    checkout_url = give(client, project, preset="custom", custom="1000", monthly=True, email=user.email).headers[
        "Location"
    ]
    assert pay_and_return(client, stripe_standin, checkout_url).status_code == 200
    first = donation_by_session(db_session, checkout_url)
    return client, first.recurring_id


def _post(client, url: str, data: dict | None = None):
    token = csrf_from(client.get("/me/donations").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def test_cancel_monthly_gift_stops_billing_at_period_end(db_session, monthly, stripe_standin):
    client, recurring_id = monthly
    assert "毎月の寄附を停止する" in client.get("/me/donations").get_data(as_text=True)
    response = _post(client, f"/me/donations/recurring/{recurring_id}/cancel")
    assert response.status_code == 302
    db_session.expire_all()
    recurring = db_session.get(RecurringDonation, recurring_id)
    assert recurring.cancel_at_period_end and recurring.status == RecurringStatus.ACTIVE
    subscription = stripe_standin.api("GET", f"/v1/subscriptions/{recurring.stripe_subscription_id}").json()
    assert subscription["cancel_at_period_end"] is True
    html = client.get("/me/donations").get_data(as_text=True)
    assert "停止のお手続き済みです" in html and "毎月の寄附を停止する" not in html
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "donations.recurring_cancel"))


def test_change_monthly_amount_goes_through_stripe(db_session, monthly, stripe_standin):
    client, recurring_id = monthly
    assert _post(client, f"/me/donations/recurring/{recurring_id}/amount", {"amount": "2,500"}).status_code == 302
    db_session.expire_all()
    recurring = db_session.get(RecurringDonation, recurring_id)
    assert recurring.amount_yen == 2500
    subscription = stripe_standin.api("GET", f"/v1/subscriptions/{recurring.stripe_subscription_id}").json()
    assert subscription["items"]["data"][0]["price"]["unit_amount"] == 2500


@pytest.mark.parametrize("amount", ["999", "1000.5", "-1", "abc"])
def test_change_monthly_amount_is_validated_like_a_new_gift(db_session, monthly, amount):
    client, recurring_id = monthly
    response = _post(client, f"/me/donations/recurring/{recurring_id}/amount", {"amount": amount})
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(RecurringDonation, recurring_id).amount_yen == 1000
    assert "flash-error" in client.get("/me/donations").get_data(as_text=True)


def test_someone_elses_monthly_gift_is_404(app, db_session, monthly):
    _client, recurring_id = monthly
    stranger = signed_in_client(app, db_session, make_user(db_session, role=UserRole.ADMIN))
    assert _post(stranger, f"/me/donations/recurring/{recurring_id}/cancel").status_code == 404
    assert _post(stranger, f"/me/donations/recurring/{recurring_id}/amount", {"amount": "5000"}).status_code == 404
    db_session.expire_all()
    assert not db_session.get(RecurringDonation, recurring_id).cancel_at_period_end


def test_guest_gifts_are_claimed_by_the_confirmed_account_with_that_address(db_session, project):
    gift = make_donation(db_session, project, donor_email="guest@example.jp")
    other = make_donation(db_session, project, donor_email="someone@example.jp")
    unconfirmed = make_user(db_session, "guest@example.jp", confirmed=False)
    assert claim_guest_donations(db_session, unconfirmed) == 0
    from kyodo_fund.db import utcnow

    unconfirmed.email_confirmed_at = utcnow()
    assert claim_guest_donations(db_session, unconfirmed) == 1
    db_session.expire_all()
    assert (gift.user_id, other.user_id) == (unconfirmed.id, None)
    assert claim_guest_donations(db_session, unconfirmed) == 0, "a second call changes nothing"


def test_activity_reports_reach_the_projects_donors_once(db_session, project):
    make_donation(db_session, project, donor_email="fan@example.jp")
    make_donation(db_session, project, donor_email="FAN@example.jp")
    make_donation(db_session, project, donor_email="gone@example.jp", status=DonationStatus.REFUNDED)
    make_donation(db_session, project, donor_email="waiting@example.jp", status=DonationStatus.PENDING)
    assert donor_recipients(db_session, project) == [("fan@example.jp", "ja")]
    emails = [email for email, _ in report_recipients(db_session, project)]
    assert "fan@example.jp" in emails and len(emails) == len(set(emails))


def test_project_page_names_only_supporters_who_opted_in(client, db_session):
    from tests.factories import make_donation, make_org, make_project

    project = make_project(db_session, make_org(db_session))
    make_donation(db_session, project, donor_name="名乗る 太郎", public_name_opt_in=True)
    make_donation(db_session, project, donor_name="名乗る 太郎", public_name_opt_in=True)
    make_donation(db_session, project, donor_name="控える 花子", public_name_opt_in=False)
    make_donation(db_session, project, donor_name="匿名 次郎", public_name_opt_in=True, anonymous=True)
    db_session.commit()
    html = client.get(f"/projects/{project.slug}").get_data(as_text=True)
    assert html.count("名乗る 太郎") == 1
    assert "控える 花子" not in html and "匿名 次郎" not in html
