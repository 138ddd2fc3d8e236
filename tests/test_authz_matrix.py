"""Every route × every kind of visitor, generated from the URL map.

A route without a declared expectation fails ``test_every_route_has_an_expectation``: whoever adds
a route must say here who may use it. Objects a visitor may not see answer 404, never 403.

Expectation symbols: ``OK`` = 2xx or a redirect that is not to the login page; ``LOGIN`` = redirect
to the login page; an int = exactly that status.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kyodo_fund.accounts.models import UserRole
from tests.conftest import csrf_from, login
from tests.factories import make_donation, make_org, make_project, make_user

OK, LOGIN = "ok", "login"
VISITORS = ("anon", "donor", "member_a", "member_b", "reviewer", "admin")


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # formatted with the world's values
    expect: tuple  # one entry per VISITORS
    data: tuple = ()


def everyone(status) -> tuple:
    return (status,) * 6


PUBLIC = everyone(OK)
SIGNED_IN = (LOGIN, OK, OK, OK, OK, OK)
STAFF = (LOGIN, 404, 404, 404, OK, OK)
ADMIN = (LOGIN, 404, 404, 404, 404, OK)
ORG_A = (LOGIN, 404, OK, 404, OK, OK)  # members of org A and staff
ORG_A_MEMBERS = (LOGIN, 404, OK, 404, 404, 404)  # members only
OWNER = (LOGIN, OK, 404, 404, 404, 404)  # the donor's own gift

EXPECTATIONS: dict[str, list[Case]] = {
    # main
    "main.home": [Case("GET", "/", PUBLIC)],
    "main.privacy": [Case("GET", "/privacy", PUBLIC)],
    "main.healthz": [Case("GET", "/healthz", PUBLIC)],
    # accounts: pages for guests redirect signed-in users away (OK covers both)
    "accounts.signup": [Case("GET", "/account/signup", PUBLIC)],
    "accounts.login": [Case("GET", "/account/login", PUBLIC)],
    "accounts.logout": [Case("POST", "/account/logout", PUBLIC)],
    "accounts.confirm": [Case("GET", "/account/confirm/not-a-token", everyone(400))],
    "accounts.resend_confirmation": [Case("POST", "/account/confirmation/resend", SIGNED_IN)],
    "accounts.forgot": [Case("GET", "/account/password/forgot", PUBLIC)],
    "accounts.reset": [Case("GET", "/account/password/reset/not-a-token", everyone(400))],
    "accounts.profile": [Case("GET", "/account/profile", SIGNED_IN)],
    "accounts.change_password": [Case("GET", "/account/password", SIGNED_IN)],
    # staff areas
    "admin.dashboard": [Case("GET", "/admin/", STAFF)],
    "audit.index": [Case("GET", "/admin/audit/", ADMIN)],
    "jobs.history": [Case("GET", "/admin/jobs/", ADMIN)],
    # tax
    "tax.simulator": [Case("GET", "/tax/simulator", PUBLIC)],
    "api.tax_estimate": [
        Case("GET", "/api/v1/tax-estimate?amount_yen=10000&recipient=koeki&total_income_yen=5000000", PUBLIC)
    ],
    # organisations
    "orgs.directory": [Case("GET", "/orgs/", PUBLIC)],
    "orgs.profile": [Case("GET", "/orgs/{org_a}", PUBLIC), Case("GET", "/orgs/{org_draft}", everyone(404))],
    "orgs.new": [Case("GET", "/orgs/new", SIGNED_IN)],
    "orgs.mine": [Case("GET", "/orgs/mine", SIGNED_IN)],
    "orgs.manage": [Case("GET", "/orgs/{org_a}/manage", ORG_A_MEMBERS)],
    "orgs.edit": [Case("GET", "/orgs/{org_draft}/edit", ORG_A_MEMBERS)],
    "orgs.officers": [Case("GET", "/orgs/{org_draft}/officers", ORG_A_MEMBERS)],
    "orgs.remove_officer": [Case("POST", "/orgs/{org_draft}/officers/{officer_draft}/remove", ORG_A_MEMBERS)],
    "orgs.upload_document": [Case("POST", "/orgs/{org_a}/documents", ORG_A_MEMBERS)],
    "orgs.download_document": [Case("GET", "/orgs/{org_a}/documents/{document_a}", ORG_A)],
    "orgs.invite": [Case("POST", "/orgs/{org_a}/invite", ORG_A_MEMBERS)],
    "orgs.remove_member": [Case("POST", "/orgs/{org_a}/members/{staff_membership_a}/remove", ORG_A_MEMBERS)],
    "orgs.accept_invitation": [Case("GET", "/orgs/invitations/not-a-token", (LOGIN, 404, 404, 404, 404, 404))],
    "orgs.transition": [
        Case("POST", "/orgs/{org_submitted}/transition", (LOGIN, 404, 404, 404, OK, OK), (("action", "start_review"),))
    ],
    "orgs.review_queue": [Case("GET", "/orgs/review", STAFF)],
    "orgs.review": [Case("GET", "/orgs/{org_a}/review", STAFF)],
    # projects
    "projects.index": [Case("GET", "/projects/", PUBLIC)],
    "projects.show": [
        Case("GET", "/projects/{project_a}", PUBLIC),
        Case("GET", "/projects/{project_draft}", (404, 404, OK, 404, OK, OK)),
    ],
    "projects.cover": [Case("GET", "/projects/{project_a}/cover", everyone(404))],
    "projects.org_projects": [Case("GET", "/orgs/{org_a}/projects", ORG_A_MEMBERS)],
    "projects.new": [Case("GET", "/orgs/{org_a}/projects/new", ORG_A_MEMBERS)],
    "projects.edit": [Case("GET", "/projects/{project_draft}/edit", ORG_A_MEMBERS)],
    "projects.plan": [Case("GET", "/projects/{project_draft}/plan", ORG_A_MEMBERS)],
    "projects.remove_plan_item": [
        Case("POST", "/projects/{project_draft}/plan/target/{target_draft}/delete", ORG_A_MEMBERS)
    ],
    "projects.manage": [Case("GET", "/projects/{project_a}/manage", ORG_A_MEMBERS)],
    "projects.transition": [
        # Members see their project, so a refused action comes back as a flash, not a 404.
        Case(
            "POST", "/projects/{project_submitted}/transition", (LOGIN, 404, OK, 404, OK, OK), (("action", "approve"),)
        )
    ],
    "projects.phase": [Case("POST", "/projects/{project_a}/phase", ORG_A_MEMBERS)],
    "projects.flags": [Case("POST", "/projects/{project_a}/flags", ADMIN)],
    "projects.new_report": [Case("GET", "/projects/{project_a}/reports/new", ORG_A_MEMBERS)],
    "projects.review_queue": [Case("GET", "/projects/review", STAFF)],
    "projects.review": [Case("GET", "/projects/{project_submitted}/review", STAFF)],
    # donations: administration and the organisation's dashboard
    "donations.admin_index": [Case("GET", "/admin/donations/", STAFF)],
    "donations.admin_export": [Case("GET", "/admin/donations/export.csv", ADMIN)],
    "donations.admin_ledger": [Case("GET", "/admin/ledger", STAFF)],
    "donations.admin_grants": [Case("GET", "/admin/projects/{project_a}/grants", STAFF)],
    "donations.admin_new_grant": [Case("GET", "/admin/projects/{project_a}/grants/new", ADMIN)],
    "donations.admin_new_offline": [Case("GET", "/admin/donations/offline/new", ADMIN)],
    "donations.admin_import": [Case("GET", "/admin/donations/import", ADMIN)],
    "donations.org_index": [Case("GET", "/orgs/{org_a}/donations", ORG_A)],
    "donations.org_export": [Case("GET", "/orgs/{org_a}/donations/export.csv", (LOGIN, 404, OK, 404, 404, OK))],
    # donations: giving and the donor's own pages (the donor owns the gift and the monthly gift)
    "donations.new": [Case("GET", "/projects/{project_a}/donate", PUBLIC)],
    "donations.thanks": [Case("GET", "/donations/{donation}/thanks", PUBLIC)],
    "donations.dashboard": [Case("GET", "/me/donations", SIGNED_IN)],
    "donations.show": [Case("GET", "/me/donations/{donation}", OWNER)],
    "donations.cancel_recurring": [Case("POST", "/me/donations/recurring/{recurring}/cancel", OWNER)],
    "donations.change_recurring": [
        Case("POST", "/me/donations/recurring/{recurring}/amount", OWNER, (("amount_yen", "not a number"),))
    ],
    "donations.admin_refund": [Case("GET", "/admin/donations/{donation}/refund", ADMIN)],
    "donations.stripe_webhook": [Case("POST", "/payments/stripe/webhook", everyone(400))],
    # receipts (the donor owns the receipt; organisation members never see receipts)
    "receipts.verify": [Case("GET", "/receipts/verify/{receipt_code}", PUBLIC)],
    "receipts.mine": [Case("GET", "/me/receipts", SIGNED_IN)],
    "receipts.download": [Case("GET", "/me/receipts/{receipt}.pdf", OWNER)],
    "receipts.donor_list": [Case("GET", "/orgs/{org_a}/donor-list.csv", ORG_A)],
    "receipts.admin_index": [Case("GET", "/admin/receipts/", STAFF)],
    "receipts.admin_show": [Case("GET", "/admin/receipts/{receipt}", ADMIN)],
    "receipts.admin_pdf": [Case("GET", "/admin/receipts/{receipt}.pdf", ADMIN)],
    "receipts.admin_zip": [Case("GET", "/admin/receipts/export.zip", ADMIN)],
    # certification: the organisation's own status pages; staff record notices
    "certification.org_status": [Case("GET", "/orgs/{org_a}/status", ORG_A_MEMBERS)],
    "certification.org_step": [Case("POST", "/orgs/{org_a}/status/step", ORG_A_MEMBERS, (("step", "legal"),))],
    "certification.record_filing_view": [Case("POST", "/orgs/{org_a}/status/filings", ORG_A_MEMBERS)],
    "certification.record_revenue_view": [Case("POST", "/orgs/{org_a}/status/revenue", ORG_A_MEMBERS)],
    "certification.pst_check": [Case("GET", "/orgs/{org_a}/pst-check", ORG_A_MEMBERS)],
    "certification.admin_org": [
        Case("GET", "/admin/orgs/{org_a}/certification", STAFF),
        Case("POST", "/admin/orgs/{org_a}/certification", ADMIN, (("op", "established"),)),
    ],
    "certification.admin_deadlines": [Case("GET", "/admin/certification/deadlines", STAFF)],
    "receipts.admin_resend": [Case("POST", "/admin/receipts/{receipt}/resend", ADMIN)],
    "receipts.admin_void": [Case("POST", "/admin/receipts/{receipt}/void", ADMIN, (("void-reason", "二重発行"),))],
    "receipts.admin_reissue": [Case("POST", "/admin/receipts/{receipt}/reissue", ADMIN, (("reissue-reason", "紛失"),))],
}


@pytest.fixture
def world(app, db_session):
    """Users of every kind and objects of org A (owned by member_a) and org B (owned by member_b)."""
    app_config = app.config
    users = {
        "donor": make_user(db_session, "donor@example.jp"),
        "member_a": make_user(db_session, "member-a@example.jp"),
        "member_b": make_user(db_session, "member-b@example.jp"),
        "reviewer": make_user(db_session, "reviewer@example.jp", role=UserRole.REVIEWER),
        "admin": make_user(db_session, "admin@example.jp", role=UserRole.ADMIN),
    }
    staff_user = make_user(db_session, "staff-a@example.jp")
    org_a = make_org(db_session, owner=users["member_a"], slug="org-a")
    make_org(db_session, owner=users["member_b"], slug="org-b")
    org_draft = make_org(db_session, owner=users["member_a"], status="draft", slug="org-a-draft")
    org_submitted = make_org(db_session, owner=users["member_a"], status="submitted", slug="org-a-submitted")
    from kyodo_fund.orgs.models import MemberRole, Membership

    staff = Membership(organisation_id=org_a.id, user_id=staff_user.id, role=MemberRole.STAFF)
    db_session.add(staff)
    project_a = make_project(db_session, org_a, slug="project-a")
    project_draft = make_project(db_session, org_a, status="draft", slug="project-a-draft")
    project_submitted = make_project(db_session, org_a, status="submitted", slug="project-a-submitted")
    document = _document(db_session, org_a, users["member_a"], app_config)
    donation = make_donation(db_session, project_a, user_id=users["donor"].id, donor_email="donor@example.jp")
    recurring = _recurring(db_session, users["donor"], project_a)
    with app.test_request_context():  # issuing renders the PDF and queues the mail
        receipt = _receipt(db_session, donation, users["donor"])
        db_session.commit()
    db_session.commit()
    values = {
        "org_a": org_a.slug,
        "org_draft": org_draft.slug,
        "org_submitted": org_submitted.slug,
        "officer_draft": org_draft.officers[0].id,
        "document_a": document.id,
        "staff_membership_a": staff.id,
        "project_a": project_a.slug,
        "project_draft": project_draft.slug,
        "project_submitted": project_submitted.slug,
        "target_draft": project_draft.targets[0].id,
        "donation": donation.public_id,
        "recurring": recurring.id,
        "receipt": receipt.id,
        "receipt_code": receipt.verification_code,
    }
    return {name: user.email for name, user in users.items()}, values


def _document(session, org, user, config):
    import io

    from kyodo_fund.audit import Actor
    from kyodo_fund.orgs.documents import store_document
    from kyodo_fund.orgs.models import DocumentKind

    return store_document(
        session,
        Actor(user),
        org,
        kind=next(iter(DocumentKind)),
        filename="teikan.pdf",
        stream=io.BytesIO(b"%PDF-1.4\n%%EOF\n"),
        upload_dir=config["UPLOAD_DIR"],
        max_bytes=config["DOCUMENT_MAX_BYTES"],
    )


def _recurring(session, user, project):
    from kyodo_fund.donations.models import RecurringDonation, RecurringStatus

    recurring = RecurringDonation(
        user_id=user.id,
        project_id=project.id,
        amount_yen=1000,
        status=RecurringStatus.CANCELED,  # already cancelled: the cancel page must not call Stripe
        stripe_subscription_id="sub_matrix",
        donor_email=user.email,
    )
    session.add(recurring)
    session.flush()
    return recurring


def _receipt(session, donation, user):
    from kyodo_fund.audit import Actor
    from kyodo_fund.receipts.services import issue_receipt

    return issue_receipt(session, donation, Actor(user))


def _classify(response) -> str | int:
    if response.status_code in (301, 302, 303) and "/account/login" in response.headers.get("Location", ""):
        return LOGIN
    if 200 <= response.status_code < 400:
        return OK
    return response.status_code


def test_every_route_has_an_expectation(app):
    routes = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    missing = sorted(routes - set(EXPECTATIONS))
    stale = sorted(set(EXPECTATIONS) - routes)
    assert not missing, f"routes without an access expectation in tests/test_authz_matrix.py: {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"


CASES = [(endpoint, i) for endpoint, cases in EXPECTATIONS.items() for i in range(len(cases))]


@pytest.mark.parametrize(("endpoint", "index"), CASES, ids=[f"{e}[{i}]" for e, i in CASES])
def test_access(app, client, world, endpoint, index):
    users, values = world
    case = EXPECTATIONS[endpoint][index]
    path = case.path.format(**values)
    seen = {}
    for visitor, expected in zip(VISITORS, case.expect, strict=True):
        client.delete_cookie("kyodo_session")
        client.delete_cookie("remember_token")
        if visitor != "anon":
            assert login(client, users[visitor]).status_code in (302, 303)
        if case.method == "GET":
            response = client.get(path)
        else:
            token = csrf_from(client.get("/privacy").get_data(as_text=True))
            response = client.post(path, data={"csrf_token": token, **dict(case.data)})
        seen[visitor] = _classify(response)
        if seen[visitor] == OK and expected == 404 and case.method == "POST":
            pytest.fail(f"{visitor} could {case.method} {path}")
    expected = dict(zip(VISITORS, case.expect, strict=True))
    assert seen == expected, f"{case.method} {path}"
