"""Who gets what: every orgs endpoint × {anonymous, donor, member of A, member of B, reviewer, admin}.

The same table is in the hand-over report; objects a visitor may not see answer 404.
"""

from __future__ import annotations

import io

import pytest

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import Actor
from kyodo_fund.orgs.documents import store_document
from kyodo_fund.orgs.models import DocumentKind, MemberRole, Membership, OrgStatus
from tests.conftest import csrf_from
from tests.factories import make_org, make_user

VISITORS = ("anon", "donor", "memberA", "memberB", "reviewer", "admin")
MEMBERS_ONLY = dict(anon=302, donor=404, memberA=200, memberB=404, reviewer=404, admin=404)
STAFF_ONLY = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=200, admin=200)
SIGNED_IN = dict(anon=302, donor=200, memberA=200, memberB=200, reviewer=200, admin=200)
EVERYONE = dict.fromkeys(VISITORS, 200)
NOBODY = dict.fromkeys(VISITORS, 404)
MEMBER_POSTS = dict(anon=302, donor=404, memberA=302, memberB=404, reviewer=404, admin=404)

#: (name, method, url, status of org A, expected per visitor, form data)
MATRIX = [
    ("directory", "GET", "/orgs/", OrgStatus.APPROVED, EVERYONE, None),
    ("profile approved", "GET", "/orgs/{a}", OrgStatus.APPROVED, EVERYONE, None),
    ("profile draft", "GET", "/orgs/{a}", OrgStatus.DRAFT, NOBODY, None),
    ("profile suspended", "GET", "/orgs/{a}", OrgStatus.SUSPENDED, NOBODY, None),
    ("new", "GET", "/orgs/new", OrgStatus.DRAFT, SIGNED_IN, None),
    ("mine", "GET", "/orgs/mine", OrgStatus.DRAFT, SIGNED_IN, None),
    ("manage", "GET", "/orgs/{a}/manage", OrgStatus.DRAFT, MEMBERS_ONLY, None),
    ("edit", "GET", "/orgs/{a}/edit", OrgStatus.DRAFT, MEMBERS_ONLY, None),
    ("officers", "GET", "/orgs/{a}/officers", OrgStatus.DRAFT, MEMBERS_ONLY, None),
    (
        "download",
        "GET",
        "/orgs/{a}/documents/{doc}",
        OrgStatus.DRAFT,
        dict(anon=302, donor=404, memberA=200, memberB=404, reviewer=200, admin=200),
        None,
    ),
    ("review_queue", "GET", "/orgs/review", OrgStatus.SUBMITTED, STAFF_ONLY, None),
    ("review", "GET", "/orgs/{a}/review", OrgStatus.SUBMITTED, STAFF_ONLY, None),
    ("transition submit", "POST", "/orgs/{a}/transition", OrgStatus.DRAFT, MEMBER_POSTS, {"action": "submit"}),
    (
        "transition approve",
        "POST",
        "/orgs/{a}/transition",
        OrgStatus.UNDER_REVIEW,
        dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=302, admin=302),
        {"action": "approve"},
    ),
    (
        "transition suspend",
        "POST",
        "/orgs/{a}/transition",
        OrgStatus.APPROVED,
        dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=404, admin=302),
        {"action": "suspend", "reason": "確認のため"},
    ),
    ("edit POST", "POST", "/orgs/{a}/edit", OrgStatus.DRAFT, MEMBER_POSTS, {"name": "改名", "legal_form": "nin_i"}),
    (
        "officers POST",
        "POST",
        "/orgs/{a}/officers",
        OrgStatus.DRAFT,
        MEMBER_POSTS,
        {"name": "監事 次郎", "title": "auditor", "address": "長野市"},
    ),
    ("remove_officer", "POST", "/orgs/{a}/officers/{officer}/remove", OrgStatus.DRAFT, MEMBER_POSTS, {}),
    ("upload_document", "POST", "/orgs/{a}/documents", OrgStatus.DRAFT, MEMBER_POSTS, "pdf"),
    ("invite", "POST", "/orgs/{a}/invite", OrgStatus.APPROVED, MEMBER_POSTS, {"email": "new@example.jp"}),
    ("remove_member", "POST", "/orgs/{a}/members/{staff}/remove", OrgStatus.APPROVED, MEMBER_POSTS, {}),
]

CASES = [(row, visitor) for row in MATRIX for visitor in VISITORS]


@pytest.mark.parametrize(("row", "visitor"), CASES, ids=[f"{r[0]}-{v}" for r, v in CASES])
def test_access(app, db_session, sign_in, pdf_bytes, row, visitor):
    _name, method, url, status, expected, data = row
    owner_a, owner_b = make_user(db_session), make_user(db_session)
    staff_a = make_user(db_session)
    users = {
        "donor": make_user(db_session),
        "memberA": owner_a,
        "memberB": owner_b,
        "reviewer": make_user(db_session, role=UserRole.REVIEWER),
        "admin": make_user(db_session, role=UserRole.ADMIN),
    }
    org_a = make_org(db_session, owner=owner_a, status=status)
    org_a.memberships.append(Membership(user_id=staff_a.id, role=MemberRole.STAFF))
    make_org(db_session, owner=owner_b)
    doc = (
        store_document(
            db_session,
            Actor(owner_a),
            org_a,
            kind=DocumentKind.ARTICLES,
            filename="teikan.pdf",
            stream=io.BytesIO(pdf_bytes),
            upload_dir=app.config["UPLOAD_DIR"],
            max_bytes=app.config["DOCUMENT_MAX_BYTES"],
        )
        if status in (OrgStatus.DRAFT, OrgStatus.APPROVED)
        else None
    )
    url = url.format(
        a=org_a.slug,
        doc=getattr(doc, "id", 0),
        officer=org_a.officers[0].id,
        staff=org_a.membership_of(staff_a.id).id,
    )
    client = app.test_client() if visitor == "anon" else sign_in(users[visitor])
    if visitor == "anon":
        db_session.commit()
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_from(client.get("/").get_data(as_text=True))
        payload = {"file": (io.BytesIO(pdf_bytes), "teikan.pdf"), "kind": "articles"} if data == "pdf" else data
        response = client.post(url, data={"csrf_token": token, **payload})
    assert response.status_code == expected[visitor], response.get_data(as_text=True)[:300]
    if expected[visitor] == 302 and visitor == "anon":
        assert "/account/login" in response.headers["Location"]
