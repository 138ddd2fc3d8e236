"""Receipt pages: public verification without personal data, the donor's own receipts, the staff pages,
and who gets what (endpoint × visitor)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import SYSTEM, Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.factory import create_app
from kyodo_fund.orgs.models import Membership, Organisation
from kyodo_fund.receipts.models import Receipt, ReceiptHold, ReceiptKind, ReceiptStatus
from kyodo_fund.receipts.services import issue_receipt, reissue_receipt, void_receipt
from tests.conftest import csrf_from
from tests.factories import make_org, make_user

DONOR = {
    "donor_name": "秘密 花子",
    "donor_address": "長野県諏訪市高島1-22-30",
    "donor_email": "secret.hanako@example.jp",
}


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(datetime(2026, 4, 1, 1, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def donor(db_session):
    return make_user(db_session, email="hanako@example.jp")


@pytest.fixture
def receipt(app, db_session, configure_issuer, gift, donor):
    configure_issuer("koeki")
    # Leaving a request context removes the scoped session: commit inside it.
    with app.test_request_context():
        issued = issue_receipt(db_session, gift(user_id=donor.id, amount_yen=12_345, **DONOR), SYSTEM)
        db_session.commit()
    return issued


def _admin_actor(db_session):
    return Actor(user=make_user(db_session, role=UserRole.ADMIN))


# --- public verification ----------------------------------------------------------------------------------


def test_verify_shows_validity_and_nothing_personal(client, receipt):
    response = client.get(f"/receipts/verify/{receipt.verification_code}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "R-2026-000001" in html and "¥12,345" in html and "有効" in html and "令和8年4月1日" in html
    assert "公益財団法人長野県みらい基金" in html
    for secret in (*DONOR.values(), "hanako@example.jp", "秘密", "諏訪市"):
        assert secret not in html, secret
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_verify_unknown_code_is_404(client, receipt):
    assert client.get("/receipts/verify/NOTACODE234567890ABCDEFGHJK").status_code == 404
    assert client.get("/receipts/verify/" + "A" * 80).status_code == 404


def test_verify_reports_void_replacement_and_reissue(app, client, db_session, receipt):
    admin = _admin_actor(db_session)
    with app.test_request_context():
        copy = reissue_receipt(db_session, db_session.get(Receipt, receipt.id), admin, "紛失")
        db_session.commit()
    assert "有効（再発行済み）" in client.get(f"/receipts/verify/{receipt.verification_code}").get_data(as_text=True)
    copy_page = client.get(f"/receipts/verify/{copy.verification_code}").get_data(as_text=True)
    assert "R-2026-000001-R1" in copy_page and "R-2026-000001 の再発行分" in copy_page

    with app.test_request_context():
        void_receipt(db_session, db_session.get(Receipt, receipt.id), admin, "誤発行")
        db_session.commit()
    for code in (receipt.verification_code, copy.verification_code):
        html = client.get(f"/receipts/verify/{code}").get_data(as_text=True)
        assert "取消済み" in html and "確定申告には使えません" in html


@pytest.fixture
def limited_app(app):
    """Flask-Limiter reads RATELIMIT_ENABLED once per app: throttling needs an app of its own."""
    limited = create_app(
        "testing",
        overrides={
            "DATABASE_URL": app.config["DATABASE_URL"],
            "RATELIMIT_ENABLED": True,
            "RECEIPTS_VERIFY_RATE_LIMIT": "3 per minute",
        },
    )
    yield limited
    limited.extensions["kyodo_db_engine"].dispose()


def test_verify_is_rate_limited_per_client(limited_app):
    client = limited_app.test_client()
    codes = [client.get(f"/receipts/verify/GUESS{n:021d}").status_code for n in range(5)]
    assert codes == [404, 404, 404, 429, 429]


# --- the donor's receipts ---------------------------------------------------------------------------------


def test_donor_lists_and_downloads_own_receipts_only(app, db_session, sign_in, receipt, donor, gift):
    stranger_gift = gift(donor_email="other@example.jp")
    with app.test_request_context():
        other = issue_receipt(db_session, stranger_gift, SYSTEM)
        db_session.commit()
    client = sign_in(donor)
    page = client.get("/me/receipts").get_data(as_text=True)
    assert "R-2026-000001" in page and other.display_number not in page
    pdf = client.get(f"/me/receipts/{receipt.id}.pdf")
    assert pdf.status_code == 200 and pdf.data == receipt.pdf
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="R-2026-000001.pdf"'
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/me/receipts/{other.id}.pdf").status_code == 404
    assert client.get("/me/receipts/999999.pdf").status_code == 404


def test_donor_cannot_void_or_reissue(db_session, sign_in, receipt, donor):
    client = sign_in(donor)
    token = csrf_from(client.get("/").get_data(as_text=True))
    for action in ("void", "reissue", "resend"):
        response = client.post(
            f"/admin/receipts/{receipt.id}/{action}", data={"csrf_token": token, f"{action}-reason": "自分で"}
        )
        assert response.status_code == 404, action
    assert db_session.get(Receipt, receipt.id).status == ReceiptStatus.VALID
    assert db_session.scalar(select(Receipt).where(Receipt.kind == ReceiptKind.REISSUE)) is None


# --- staff pages ------------------------------------------------------------------------------------------


def test_admin_reissues_and_voids_through_the_forms(db_session, sign_in, receipt):
    admin = make_user(db_session, role=UserRole.ADMIN)
    client = sign_in(admin)
    page = client.get(f"/admin/receipts/{receipt.id}")
    token = csrf_from(page.get_data(as_text=True))
    missing = client.post(f"/admin/receipts/{receipt.id}/reissue", data={"csrf_token": token, "reissue-reason": ""})
    assert missing.status_code == 400 and "理由を入力してください。" in missing.get_data(as_text=True)

    done = client.post(f"/admin/receipts/{receipt.id}/reissue", data={"csrf_token": token, "reissue-reason": "紛失"})
    assert done.status_code == 302
    copy = db_session.scalar(select(Receipt).where(Receipt.kind == ReceiptKind.REISSUE))
    assert copy.display_number == "R-2026-000001-R1"
    assert done.headers["Location"].endswith(f"/admin/receipts/{copy.id}")

    voided = client.post(f"/admin/receipts/{receipt.id}/void", data={"csrf_token": token, "void-reason": "誤発行"})
    assert voided.status_code == 302
    assert db_session.get(Receipt, receipt.id).status == ReceiptStatus.VOIDED
    actions = db_session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == admin.id)).all()
    assert {"receipts.reissue", "receipts.void"} <= set(actions)


def test_admin_resend_queues_a_new_message(db_session, sign_in, receipt, send_mail, mailbox):
    send_mail()
    mailbox.clear()
    client = sign_in(make_user(db_session, role=UserRole.ADMIN))
    token = csrf_from(client.get(f"/admin/receipts/{receipt.id}").get_data(as_text=True))
    assert client.post(f"/admin/receipts/{receipt.id}/resend", data={"csrf_token": token}).status_code == 302
    assert send_mail()["sent"] == 1
    (mail,) = mailbox
    assert mail["To"] == DONOR["donor_email"]
    assert [a.get_filename() for a in mail.iter_attachments()] == ["R-2026-000001.pdf"]


def test_admin_index_search_filters_and_needs_data(db_session, sign_in, receipt, gift):
    held = gift(donor_name="住所待ち 次郎")
    db_session.add(ReceiptHold(donation_id=held.id, problems=["寄附者の住所がありません"], context="receipt"))
    reviewer_client = sign_in(make_user(db_session, role=UserRole.REVIEWER))
    html = reviewer_client.get("/admin/receipts/").get_data(as_text=True)
    assert (
        "情報不足で発行できない寄附（1件）" in html and "住所待ち 次郎" in html and "寄附者の住所がありません" in html
    )
    assert "R-2026-000001" in html
    assert f"/admin/receipts/{receipt.id}" not in html  # reviewers see the list only
    assert (
        "秘密 花子" not in reviewer_client.get("/admin/receipts/?q=zzz").get_data(as_text=True).split("</section>")[1]
    )
    assert "R-2026-000001" in reviewer_client.get("/admin/receipts/?q=secret.hanako").get_data(as_text=True)
    assert "R-2026-000001" not in reviewer_client.get("/admin/receipts/?status=voided").get_data(as_text=True)


def test_admin_zip_of_selected_and_filtered_receipts(app, db_session, sign_in, receipt, gift):
    with app.test_request_context():
        second = issue_receipt(db_session, gift(), SYSTEM)
        db_session.commit()
    client = sign_in(make_user(db_session, role=UserRole.ADMIN))
    selected = client.get(f"/admin/receipts/export.zip?id={second.id}")
    assert selected.status_code == 200 and selected.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(selected.data)) as archive:
        assert archive.namelist() == ["R-2026-000002.pdf"]
        assert archive.read("R-2026-000002.pdf") == second.pdf
    everything = client.get("/admin/receipts/export.zip?year=2026")
    with zipfile.ZipFile(io.BytesIO(everything.data)) as archive:
        assert sorted(archive.namelist()) == ["R-2026-000001.pdf", "R-2026-000002.pdf"]
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "receipts.export")) is not None


# --- endpoint × visitor -----------------------------------------------------------------------------------

VISITORS = ("anon", "donor", "memberA", "memberB", "reviewer", "admin")
EVERYONE = dict.fromkeys(VISITORS, 200)
SIGNED_IN = dict(anon=302, donor=200, memberA=200, memberB=200, reviewer=200, admin=200)
OWNER_ONLY = dict(anon=302, donor=200, memberA=404, memberB=404, reviewer=404, admin=404)
STAFF = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=200, admin=200)
ADMIN = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=404, admin=200)
ADMIN_POST = dict(anon=302, donor=404, memberA=404, memberB=404, reviewer=404, admin=302)
REGISTER = dict(anon=302, donor=404, memberA=200, memberB=404, reviewer=200, admin=200)

MATRIX = [
    ("verify", "GET", "/receipts/verify/{code}", EVERYONE, None),
    ("mine", "GET", "/me/receipts", SIGNED_IN, None),
    ("download", "GET", "/me/receipts/{id}.pdf", OWNER_ONLY, None),
    ("donor_list", "GET", "/orgs/{org}/donor-list.csv?fy=2025", REGISTER, None),
    ("admin_index", "GET", "/admin/receipts/", STAFF, None),
    ("admin_show", "GET", "/admin/receipts/{id}", ADMIN, None),
    ("admin_pdf", "GET", "/admin/receipts/{id}.pdf", ADMIN, None),
    ("admin_zip", "GET", "/admin/receipts/export.zip?id={id}", ADMIN, None),
    ("admin_resend", "POST", "/admin/receipts/{id}/resend", ADMIN_POST, {}),
    ("admin_void", "POST", "/admin/receipts/{id}/void", ADMIN_POST, {"void-reason": "確認"}),
    ("admin_reissue", "POST", "/admin/receipts/{id}/reissue", ADMIN_POST, {"reissue-reason": "紛失"}),
]
CASES = [(row, visitor) for row in MATRIX for visitor in VISITORS]


@pytest.mark.parametrize(("row", "visitor"), CASES, ids=[f"{r[0]}-{v}" for r, v in CASES])
def test_access(app, db_session, sign_in, receipt, donor, project, row, visitor):
    _name, method, url, expected, data = row
    member_a, member_b = make_user(db_session), make_user(db_session)
    org_a = db_session.get(Organisation, project.organisation_id)
    org_a.memberships.append(Membership(user_id=member_a.id))
    make_org(db_session, owner=member_b)
    users = {
        "donor": donor,
        "memberA": member_a,
        "memberB": member_b,
        "reviewer": make_user(db_session, role=UserRole.REVIEWER),
        "admin": make_user(db_session, role=UserRole.ADMIN),
    }
    url = url.format(code=receipt.verification_code, id=receipt.id, org=org_a.slug)
    if visitor == "anon":
        db_session.commit()
        client = app.test_client()
    else:
        client = sign_in(users[visitor])
    if method == "GET":
        response = client.get(url)
    else:
        token = csrf_from(client.get("/").get_data(as_text=True))
        response = client.post(url, data={"csrf_token": token, **data})
    assert response.status_code == expected[visitor], response.get_data(as_text=True)[:300]
    if visitor == "anon" and expected[visitor] == 302:
        assert "/account/login" in response.headers["Location"]


def test_posts_without_csrf_token_are_refused(app, db_session, sign_in, receipt):
    client = sign_in(make_user(db_session, role=UserRole.ADMIN))
    assert client.post(f"/admin/receipts/{receipt.id}/void", data={"void-reason": "x"}).status_code == 400
    assert client.get(f"/admin/receipts/{receipt.id}/void").status_code == 405


def test_staff_dashboard_links_the_receipts_page(db_session, sign_in):
    client = sign_in(make_user(db_session, role=UserRole.REVIEWER))
    assert 'href="/admin/receipts/"' in client.get("/admin/").get_data(as_text=True)
