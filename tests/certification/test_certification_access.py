"""Who gets what: every certification endpoint × {anonymous, donor, member of A, member of B, reviewer, admin}.

Objects a visitor may not see answer 404. The same table is in the hand-over report.
"""

from __future__ import annotations

import io

import pytest

from kyodo_fund.certification.models import LegalState, LegalStatus
from tests.conftest import csrf_from

VISITORS = ("anon", "donor", "memberA", "memberB", "reviewer", "admin")
MEMBERS_ONLY = dict(anon=302, donor=404, memberA=200, memberB=404, reviewer=404, admin=404)
MEMBER_POSTS = dict(anon=302, donor=404, memberA=302, memberB=404, reviewer=404, admin=404)
STAFF_ONLY = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=200, admin=200)
ADMIN_POSTS = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=404, admin=302)

D_CSV = (
    "received_on,amount_yen,donor_name,donor_kana,postal_code,address,email,household,anonymous,method,project\n"
    "2025-06-01,5000,山田花子,,,長野市1,,,0,,\n"
)
O_CSV = "name,address,household\n理事 太郎,長野市2,\n"

#: (name, method, url, expected, form data or None, legal state to store for org A or None)
MATRIX = [
    ("org_status", "GET", "/orgs/{a}/status", MEMBERS_ONLY, None, None),
    (
        "org_step apply",
        "POST",
        "/orgs/{a}/status/step",
        MEMBER_POSTS,
        {"step": "legal", "action": "apply", "legal-effective_on": "2026-06-01"},
        LegalState.NIN_I,
    ),
    (
        "record_filing",
        "POST",
        "/orgs/{a}/status/filings",
        MEMBER_POSTS,
        {"filing-fiscal_year_end": "2026-03-31", "filing-filed_on": "2026-06-01"},
        None,
    ),
    (
        "record_revenue",
        "POST",
        "/orgs/{a}/status/revenue",
        MEMBER_POSTS,
        {
            "revenue-fiscal_year_end": "2026-03-31",
            "revenue-total_revenue_yen": "5000000",
            "revenue-excluded_revenue_yen": "0",
        },
        None,
    ),
    ("pst_check", "GET", "/orgs/{a}/pst-check", MEMBERS_ONLY, None, None),
    (
        "pst_check POST",
        "POST",
        "/orgs/{a}/pst-check",
        MEMBERS_ONLY,
        {"fiscal_year_end_month": "3", "as_of": "2026-06-10", "files": True},
        None,
    ),
    ("admin_org", "GET", "/admin/orgs/{a}/certification", STAFF_ONLY, None, None),
    (
        "admin_org POST",
        "POST",
        "/admin/orgs/{a}/certification",
        ADMIN_POSTS,
        {"op": "record", "new-kind": "nintei", "new-granted_on": "2026-05-01", "new-notice_number": "8県協第1号"},
        None,
    ),
    ("admin_deadlines", "GET", "/admin/certification/deadlines", STAFF_ONLY, None, None),
    ("admin_deadlines csv", "GET", "/admin/certification/deadlines?format=csv", STAFF_ONLY, None, None),
]

CASES = [(row, visitor) for row in MATRIX for visitor in VISITORS]


@pytest.mark.parametrize(("row", "visitor"), CASES, ids=[f"{r[0]}-{v}" for r, v in CASES])
def test_access(app, db_session, cast, sign_in, june_2026, row, visitor):
    _name, method, url, expected, data, legal_state = row
    if legal_state is not None:
        db_session.add(LegalStatus(organisation_id=cast.org_a.id, status=legal_state))
        db_session.flush()
    users = {"memberA": cast.owner_a, "memberB": cast.member_b}
    user = (
        users.get(visitor)
        or {"anon": None, "donor": cast.donor, "reviewer": cast.reviewer, "admin": cast.admin}[visitor]
    )
    client = sign_in(user)
    url = url.format(a=cast.org_a.slug)
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_from(client.get("/").get_data(as_text=True))
        payload = dict(data)
        if payload.pop("files", False):
            payload["donations"] = (io.BytesIO(D_CSV.encode()), "D.csv")
            payload["officers"] = (io.BytesIO(O_CSV.encode()), "O.csv")
        response = client.post(url, data={"csrf_token": token, **payload})
    assert response.status_code == expected[visitor], response.get_data(as_text=True)[:600]
    if expected[visitor] == 302 and visitor == "anon":
        assert "/account/login" in response.headers["Location"]
    if expected[visitor] == 302 and visitor != "anon":
        # A successful post lands back on the page it came from, never on an error.
        assert "/status" in response.headers["Location"] or "/certification" in response.headers["Location"]
