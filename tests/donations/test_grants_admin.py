"""Grants on the admin side: the form (balance check, duplicates) and the per-project list."""

from __future__ import annotations

import pytest

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.ledger.services import org_grants, project_balance
from kyodo_fund.projects.models import today_in_tokyo
from tests.donations.offline_support import sign_in, token_of
from tests.factories import make_offline_donation, make_org, make_project, make_user


@pytest.fixture
def project(db_session):
    project = make_project(db_session, make_org(db_session), slug="kodomo-shokudo", title="子ども食堂")
    make_offline_donation(db_session, project, amount_yen=10_000)  # ¥9,000 grantable
    return project


@pytest.fixture
def admin_client(app, db_session, project):
    return sign_in(app, db_session, make_user(db_session, role=UserRole.ADMIN))


def new_grant(client, **values):
    url = "/admin/projects/kodomo-shokudo/grants/new"
    data = {"amount_yen": "5,000", "paid_on": today_in_tokyo().isoformat(), "bank_reference": "HACHIJUNI-0001"}
    data.update(values)
    return client.post(url, data={"csrf_token": token_of(client, url), **data})


def test_the_form_shows_the_balance(admin_client):
    page = admin_client.get("/admin/projects/kodomo-shokudo/grants/new").get_data(as_text=True)
    assert "助成できる残高: ¥9,000" in page


def test_a_grant_is_recorded_and_listed(admin_client, db_session, project):
    response = new_grant(admin_client, memo="第1回")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/admin/projects/kodomo-shokudo/grants"
    )
    assert project_balance(db_session, project.id) == 4_000
    [line] = org_grants(db_session, project.organisation_id)
    assert (line.amount_yen, line.bank_reference, line.memo) == (5_000, "HACHIJUNI-0001", "第1回")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "HACHIJUNI-0001" in page and "¥5,000" in page and "¥4,000" in page


def test_a_grant_beyond_the_balance_is_refused_on_the_form(admin_client, db_session, project):
    response = new_grant(admin_client, amount_yen="9001")
    assert response.status_code == 200
    assert "助成額が事業の残高（¥9,000）を超えています。" in response.get_data(as_text=True)
    assert project_balance(db_session, project.id) == 9_000
    assert org_grants(db_session, project.organisation_id) == []


def test_the_same_bank_reference_twice_is_refused(admin_client, db_session, project):
    assert new_grant(admin_client, amount_yen="1000").status_code == 302
    again = new_grant(admin_client, amount_yen="1000")
    assert again.status_code == 200 and "記録済みです" in again.get_data(as_text=True)
    assert project_balance(db_session, project.id) == 8_000


@pytest.mark.parametrize(
    ("values", "expected"), [({"bank_reference": ""}, "入力してください"), ({"amount_yen": "-1"}, "金額は")]
)
def test_missing_or_bad_fields_are_shown(admin_client, db_session, project, values, expected):
    response = new_grant(admin_client, **values)
    assert response.status_code == 200 and expected in response.get_data(as_text=True)
    assert project_balance(db_session, project.id) == 9_000


def test_an_unknown_project_is_404(admin_client):
    assert admin_client.get("/admin/projects/no-such/grants/new").status_code == 404
    assert admin_client.get("/admin/projects/no-such/grants").status_code == 404
