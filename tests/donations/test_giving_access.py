"""Who may open the giving pages: the matrix of the report, asserted (objects others may not
see answer 404, never 403)."""

from __future__ import annotations

import pytest

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.donations.models import RecurringDonation, RecurringStatus
from tests.conftest import csrf_from
from tests.donations.giving_support import signed_in_client
from tests.factories import make_donation, make_org, make_project, make_user

VISITORS = ("anon", "donor", "member_a", "member_b", "reviewer", "admin")


@pytest.fixture
def world(app, db_session):
    owner = make_user(db_session, "owner-donor@example.jp")
    member_a, member_b = make_user(db_session), make_user(db_session)
    org_a = make_org(db_session, owner=member_a)
    make_org(db_session, owner=member_b)
    project = make_project(db_session, org_a)
    gift = make_donation(db_session, project, user_id=owner.id)
    recurring = RecurringDonation(
        user_id=owner.id, project_id=project.id, amount_yen=1000, status=RecurringStatus.INCOMPLETE
    )
    db_session.add(recurring)
    users = {
        "donor": owner,
        "member_a": member_a,
        "member_b": member_b,
        "reviewer": make_user(db_session, role=UserRole.REVIEWER),
        "admin": make_user(db_session, role=UserRole.ADMIN),
    }
    db_session.commit()
    clients = {"anon": app.test_client()}
    clients.update({name: signed_in_client(app, db_session, user) for name, user in users.items()})
    return {"clients": clients, "project": project, "gift": gift, "recurring": recurring}


EXPECTED_GET = {
    "new": dict.fromkeys(VISITORS, 200),
    "thanks": dict.fromkeys(VISITORS, 200),
    "dashboard": {"anon": 302, "donor": 200, "member_a": 200, "member_b": 200, "reviewer": 200, "admin": 200},
    "show": {"anon": 302, "donor": 200, "member_a": 404, "member_b": 404, "reviewer": 404, "admin": 404},
    "admin_refund": {"anon": 302, "donor": 404, "member_a": 404, "member_b": 404, "reviewer": 404, "admin": 200},
}


def _url(world, page: str) -> str:
    gift, project = world["gift"], world["project"]
    return {
        "new": f"/projects/{project.slug}/donate",
        "thanks": f"/donations/{gift.public_id}/thanks",
        "dashboard": "/me/donations",
        "show": f"/me/donations/{gift.public_id}",
        "admin_refund": f"/admin/donations/{gift.public_id}/refund",
    }[page]


@pytest.mark.parametrize("page", sorted(EXPECTED_GET))
def test_get_matrix(world, page):
    got = {who: world["clients"][who].get(_url(world, page)).status_code for who in VISITORS}
    assert got == EXPECTED_GET[page]


@pytest.mark.parametrize("action", ["cancel", "amount"])
def test_recurring_actions_matrix(world, action):
    url = f"/me/donations/recurring/{world['recurring'].id}/{action}"
    got = {}
    for who in VISITORS:
        client = world["clients"][who]
        token = csrf_from(client.get("/").get_data(as_text=True))
        got[who] = client.post(url, data={"csrf_token": token, "amount": "2000"}).status_code
    # The owner's incomplete gift: cancel just marks it stopped; a new amount is refused with a message.
    assert got == {"anon": 302, "donor": 302, "member_a": 404, "member_b": 404, "reviewer": 404, "admin": 404}


def test_state_changes_without_a_csrf_token_are_refused(world):
    for url in (
        f"/me/donations/recurring/{world['recurring'].id}/cancel",
        f"/admin/donations/{world['gift'].public_id}/refund",
        f"/projects/{world['project'].slug}/donate",
    ):
        assert world["clients"]["admin"].post(url, data={}).status_code == 400


def test_webhook_refuses_every_unsigned_visitor(world):
    for who in VISITORS:
        assert world["clients"][who].post("/payments/stripe/webhook", data=b"{}").status_code == 400
