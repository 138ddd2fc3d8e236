"""Who gets what: every endpoint of the offline/import/grant/dashboard work × {anonymous, donor, member of A,
member of B, reviewer, admin}. Org A owns the project the gifts went to. The same table is in the hand-over
report; objects a visitor may not see answer 404, pages that change money are for administrators only."""

from __future__ import annotations

import io

import pytest

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.projects.models import today_in_tokyo
from tests.conftest import csrf_from, login
from tests.factories import make_offline_donation, make_org, make_project, make_user

VISITORS = ("anon", "donor", "memberA", "memberB", "reviewer", "admin")
STAFF = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=200, admin=200)
ADMIN = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=404, admin=200)
ORG_A = dict(anon=302, donor=404, memberA=200, memberB=404, reviewer=200, admin=200)
ORG_A_EXPORT = dict(anon=302, donor=404, memberA=200, memberB=404, reviewer=404, admin=200)


def _posted(status_ok: int) -> dict:
    return dict(ADMIN, admin=status_ok)


def offline_form() -> dict:
    return {
        "received_on": today_in_tokyo().isoformat(),
        "amount_yen": "1000",
        "method": "cash",
        "project": "",
        "donor_name": "現金 太郎",
        "receipt_preference": "per_donation",
    }


#: (name, method, url, expected per visitor, form data)
MATRIX = [
    ("admin_index", "GET", "/admin/donations/", STAFF, None),
    ("admin_export", "GET", "/admin/donations/export.csv", ADMIN, None),
    ("admin_ledger", "GET", "/admin/ledger", STAFF, None),
    ("admin_grants", "GET", "/admin/projects/proj-a/grants", STAFF, None),
    ("admin_new_grant", "GET", "/admin/projects/proj-a/grants/new", ADMIN, None),
    (
        "admin_new_grant POST",
        "POST",
        "/admin/projects/proj-a/grants/new",
        _posted(302),
        {"amount_yen": "100", "paid_on": today_in_tokyo().isoformat(), "bank_reference": "X-1"},
    ),
    ("admin_new_offline", "GET", "/admin/donations/offline/new", ADMIN, None),
    ("admin_new_offline POST", "POST", "/admin/donations/offline/new", _posted(302), "offline"),
    ("admin_import", "GET", "/admin/donations/import", ADMIN, None),
    ("admin_import POST", "POST", "/admin/donations/import", _posted(200), "upload"),
    ("org_index", "GET", "/orgs/org-a/donations", ORG_A, None),
    ("org_export", "GET", "/orgs/org-a/donations/export.csv", ORG_A_EXPORT, None),
    (
        "org_index unknown org",
        "GET",
        "/orgs/no-such-org/donations",
        dict(ORG_A, memberA=404, reviewer=404, admin=404),
        None,
    ),
]

CASES = [(row, visitor) for row in MATRIX for visitor in VISITORS]


@pytest.fixture
def world(db_session):
    users = {
        "donor": make_user(db_session, "donor@example.jp"),
        "memberA": make_user(db_session, "a@example.jp"),
        "memberB": make_user(db_session, "b@example.jp"),
        "reviewer": make_user(db_session, "reviewer@example.jp", role=UserRole.REVIEWER),
        "admin": make_user(db_session, "admin@example.jp", role=UserRole.ADMIN),
    }
    org_a = make_org(db_session, owner=users["memberA"], slug="org-a")
    make_org(db_session, owner=users["memberB"], slug="org-b")
    project = make_project(db_session, org_a, slug="proj-a")
    make_offline_donation(db_session, project, amount_yen=10_000)
    db_session.commit()
    return users


def _data(form, token: str):
    if form == "offline":
        form = offline_form()
    elif form == "upload":
        header = (
            "received_on,amount_yen,donor_name,donor_kana,postal_code,address,email,household,anonymous,method,project"
        )
        body = f"{header}\n{today_in_tokyo().isoformat()},1000,名前,,,,,,false,cash,\n".encode()
        form = {"step": "upload", "csv_file": (io.BytesIO(body), "a.csv")}
    return {"csrf_token": token, **(form or {})}


@pytest.mark.parametrize(("row", "visitor"), CASES, ids=[f"{r[0]}-{v}" for r, v in CASES])
def test_access(app, db_session, world, row, visitor):
    _name, method, url, expected, form = row
    client = app.test_client()
    if visitor != "anon":
        assert login(client, world[visitor].email).status_code == 302
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_from(client.get("/").get_data(as_text=True))
        response = client.post(url, data=_data(form, token), content_type="multipart/form-data")
    assert response.status_code == expected[visitor], response.get_data(as_text=True)[:300]
    if response.status_code == 302 and visitor == "anon":
        assert "/account/login" in response.headers["Location"]
