from __future__ import annotations

import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.db import utcnow
from kyodo_fund.orgs.models import Membership, Organisation, OrgDocument, OrgInvitation, OrgStatus
from tests.conftest import csrf_from
from tests.factories import make_org, make_user


def _post(client, url, data, **kwargs):
    token = csrf_from(client.get("/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, **kwargs)


def _text(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ")


def _org(db_session, slug: str) -> Organisation:
    db_session.expire_all()
    return db_session.scalar(select(Organisation).where(Organisation.slug == slug))


VALID_FORM = {
    "name": "しんしゅう森の会",
    "name_kana": "シンシュウモリノカイ",
    "slug": "shinshu-mori",
    "legal_form": "npo_houjin",
    "corporate_number": "7000012050002",
    "representative_name": "山田 太郎",
    "postal_code": "３８０８５７０",
    "municipality_code": "202011",
    "address": "長野県長野市大字南長野字幅下692-2",
    "activity_categories": ["3", "7"],
    "strengths": "森林整備、環境教育",
    "description": "里山の手入れと自然体験を行っています。",
    "website": "https://example.jp/mori",
    "email": "info@example.jp",
    "phone": "026-232-0111",
    "fiscal_year_end_month": "3",
}


# --- registration --------------------------------------------------------------------------


def test_registration_creates_a_draft_and_the_user_owns_it(db_session, sign_in):
    user = make_user(db_session)
    client = sign_in(user)
    response = _post(client, "/orgs/new", VALID_FORM)
    assert response.status_code == 302 and response.headers["Location"].endswith("/orgs/shinshu-mori/officers")
    org = _org(db_session, "shinshu-mori")
    assert org.status is OrgStatus.DRAFT and org.postal_code == "380-8570"
    assert sorted(org.activity_categories) == [3, 7] and org.strengths == ["森林整備", "環境教育"]
    assert org.membership_of(user.id).role.value == "owner"
    mine = client.get("/orgs/mine").get_data(as_text=True)
    assert "しんしゅう森の会" in mine and 'class="badge draft"' in mine


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "入力してください。"),
        ({"corporate_number": "8000012050002"}, "法人番号が正しくありません"),
        ({"website": "javascript:alert(1)"}, "http:// または https:// で始まるURL"),
        ({"name_kana": "しんしゅう"}, "全角カタカナで入力してください。"),
        ({"postal_code": "38-08570"}, "郵便番号は「380-0000」の形式"),
        ({"slug": "review"}, "この英字名は使えません"),
        ({"email": "not-an-address"}, "メールアドレスの形式が正しくありません。"),
        ({"municipality_code": "131016"}, "長野県内の市町村を選んでください。"),
        ({"phone": "abc"}, "電話番号は"),
    ],
)
def test_registration_errors_rerender_in_japanese_and_save_nothing(db_session, sign_in, changes, message):
    client = sign_in(make_user(db_session))
    response = _post(client, "/orgs/new", {**VALID_FORM, **changes})
    assert response.status_code == 200
    text = _text(response)
    assert "入力内容を確認してください。" in text and message in text
    assert "個人情報" in text  # the purpose notice is shown before the submit button
    assert db_session.scalar(select(func.count(Organisation.id))) == 0


def test_registration_form_keeps_what_was_typed(db_session, sign_in):
    client = sign_in(make_user(db_session))
    html = _post(client, "/orgs/new", {**VALID_FORM, "name": ""}).get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("input", {"name": "address"})["value"] == VALID_FORM["address"]
    assert {i["value"] for i in soup.find_all("input", {"name": "activity_categories", "checked": True})} == {"3", "7"}


# --- editing, officers, submitting ---------------------------------------------------------


def test_edit_only_in_draft_and_more_info_needed(db_session, sign_in):
    owner = make_user(db_session)
    draft = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    asked = make_org(db_session, owner=owner, status=OrgStatus.MORE_INFO_NEEDED)
    waiting = make_org(db_session, owner=owner, status=OrgStatus.SUBMITTED)
    client = sign_in(owner)
    for org in (draft, asked):
        page = client.get(f"/orgs/{org.slug}/edit")
        assert page.status_code == 200 and org.name in page.get_data(as_text=True)
        response = _post(client, f"/orgs/{org.slug}/edit", {**VALID_FORM, "slug": "", "name": f"新{org.id}"})
        assert response.status_code == 302
        assert _org(db_session, org.slug).name == f"新{org.id}"
    assert client.get(f"/orgs/{waiting.slug}/edit").status_code == 302
    response = _post(client, f"/orgs/{waiting.slug}/edit", {**VALID_FORM, "slug": "", "name": "変更不可"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/orgs/{waiting.slug}/manage")
    assert _org(db_session, waiting.slug).name == waiting.name
    assert "変更できません" in _text(client.get(response.headers["Location"]))


def test_edit_keeps_a_generated_slug(db_session, sign_in):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    org.slug = f"org-{org.id}"
    client = sign_in(owner)
    form = BeautifulSoup(client.get(f"/orgs/{org.slug}/edit").get_data(as_text=True), "html.parser")
    assert form.find("input", {"name": "slug"})["value"] == org.slug
    response = _post(client, f"/orgs/{org.slug}/edit", {**VALID_FORM, "slug": org.slug, "name": "名前だけ変更"})
    assert response.status_code == 302
    assert _org(db_session, org.slug).name == "名前だけ変更"


def test_officers_page_adds_and_removes(db_session, sign_in):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    client = sign_in(owner)
    bad = _post(client, f"/orgs/{org.slug}/officers", {"name": "", "title": "auditor", "address": ""})
    assert bad.status_code == 200 and "入力してください。" in _text(bad)
    ok = _post(client, f"/orgs/{org.slug}/officers", {"name": "監事 次郎", "title": "auditor", "address": "松本市"})
    assert ok.status_code == 302
    officers = _org(db_session, org.slug).officers
    assert [o.name for o in officers][-1] == "監事 次郎"
    _post(client, f"/orgs/{org.slug}/officers/{officers[-1].id}/remove", {})
    assert len(_org(db_session, org.slug).officers) == 1


def test_incomplete_submit_flashes_what_is_missing(db_session, sign_in):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT, officers=[], strengths=[])
    client = sign_in(owner)
    manage = _text(client.get(f"/orgs/{org.slug}/manage"))
    assert "役員（1名以上）" in manage and "団体の強み・得意なこと（1つ以上）" in manage
    response = _post(client, f"/orgs/{org.slug}/transition", {"action": "submit"}, follow_redirects=True)
    text = _text(response)
    assert "審査を申請する前に" in text and "役員（1名以上）" in text
    assert _org(db_session, org.slug).status is OrgStatus.DRAFT


def test_full_screening_through_the_pages(db_session, sign_in, send_mail, mailbox):
    owner = make_user(db_session)
    reviewer = make_user(db_session, role=UserRole.REVIEWER)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    member, staff = sign_in(owner), sign_in(reviewer)
    assert _post(member, f"/orgs/{org.slug}/transition", {"action": "submit"}).status_code == 302
    queue = _text(staff.get("/orgs/review"))
    assert org.name in queue
    review_html = staff.get(f"/orgs/{org.slug}/review").get_data(as_text=True)
    assert 'value="start_review"' in review_html and 'value="approve"' not in review_html
    _post(staff, f"/orgs/{org.slug}/transition", {"action": "start_review"})
    missing_reason = _post(staff, f"/orgs/{org.slug}/transition", {"action": "reject"}, follow_redirects=True)
    assert "理由・コメントを入力してください。" in _text(missing_reason)
    illegal = _post(staff, f"/orgs/{org.slug}/transition", {"action": "reinstate"}, follow_redirects=True)
    assert "この操作は現在の状態では行えません。" in _text(illegal)
    response = _post(staff, f"/orgs/{org.slug}/transition", {"action": "approve"})
    assert response.headers["Location"].endswith(f"/orgs/{org.slug}/review")
    assert _org(db_session, org.slug).status is OrgStatus.APPROVED
    send_mail()
    assert [m["To"] for m in mailbox] == [owner.email] and "承認" in mailbox[0]["Subject"]
    assert member.get(f"/orgs/{org.slug}").status_code == 200


# --- documents -----------------------------------------------------------------------------


def _upload(client, org, data: bytes, filename: str):
    return _post(
        client,
        f"/orgs/{org.slug}/documents",
        {"kind": "articles", "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_upload_accepts_a_real_pdf_and_download_sends_it_as_attachment(app, db_session, sign_in, pdf_bytes):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    other = make_user(db_session)
    make_org(db_session, owner=other)
    client = sign_in(owner)
    assert "書類をアップロードしました。" in _text(_upload(client, org, pdf_bytes, "定款 2024.pdf"))
    doc = db_session.scalars(select(OrgDocument)).one()
    response = client.get(f"/orgs/{org.slug}/documents/{doc.id}")
    assert response.status_code == 200 and response.data == pdf_bytes
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert sign_in(other).get(f"/orgs/{org.slug}/documents/{doc.id}").status_code == 404
    anonymous = app.test_client().get(f"/orgs/{org.slug}/documents/{doc.id}")
    assert anonymous.status_code == 302 and "/account/login" in anonymous.headers["Location"]
    # The id alone is not enough: the document must belong to the organisation in the URL.
    other_org = db_session.scalars(select(Organisation).where(Organisation.id != org.id)).one()
    assert sign_in(other).get(f"/orgs/{other_org.slug}/documents/{doc.id}").status_code == 404


def test_upload_rejects_renamed_text_and_oversized_files(app, db_session, sign_in, pdf_bytes, monkeypatch):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    client = sign_in(owner)
    assert "PDFファイルではありません" in _text(_upload(client, org, b"plain text notes\n", "memo.pdf"))
    assert "拡張子 .pdf" in _text(_upload(client, org, pdf_bytes, "memo.txt"))
    monkeypatch.setitem(app.config, "DOCUMENT_MAX_BYTES", len(pdf_bytes) - 1)
    assert "ファイルが大きすぎます" in _text(_upload(client, org, pdf_bytes, "big.pdf"))
    assert "ファイルを選んでください。" in _text(
        _post(client, f"/orgs/{org.slug}/documents", {"kind": "articles"}, follow_redirects=True)
    )
    assert db_session.scalar(select(func.count(OrgDocument.id))) == 0


# --- invitations ---------------------------------------------------------------------------


def _link(message) -> str:
    body = message.get_body(("plain",)).get_content()
    return urlsplit(re.search(r"https?://\S+/orgs/invitations/\S+", body).group(0)).path


def test_invitation_end_to_end(app, db_session, sign_in, send_mail, mailbox):
    owner = make_user(db_session)
    invitee = make_user(db_session, "helper@example.jp")
    stranger = make_user(db_session)
    org = make_org(db_session, owner=owner)
    owner_client = sign_in(owner)
    response = _post(owner_client, f"/orgs/{org.slug}/invite", {"email": "Helper@Example.jp", "role": "staff"})
    assert response.status_code == 302
    assert send_mail()["sent"] == 1
    assert mailbox[0]["To"] == "helper@example.jp" and org.name in mailbox[0]["Subject"]
    link = _link(mailbox[0])

    anonymous = app.test_client().get(link)
    assert anonymous.status_code == 302 and "/account/login" in anonymous.headers["Location"]
    stranger_client = sign_in(stranger)
    assert stranger_client.get(link).status_code == 404
    assert _post(stranger_client, link, {}).status_code == 404

    invitee_client = sign_in(invitee)
    page = invitee_client.get(link)
    assert page.status_code == 200 and org.name in _text(page)
    accepted = _post(invitee_client, link, {})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith(f"/orgs/{org.slug}/manage")
    membership = db_session.scalar(
        select(Membership).where(Membership.organisation_id == org.id, Membership.user_id == invitee.id)
    )
    assert membership is not None and membership.role.value == "staff"
    assert invitee_client.get(f"/orgs/{org.slug}/manage").status_code == 200
    assert invitee_client.get(link).status_code == 404  # used

    # The owner removes the new staff member again; staff cannot invite.
    assert _post(invitee_client, f"/orgs/{org.slug}/invite", {"email": "x@example.jp"}).status_code == 404
    _post(owner_client, f"/orgs/{org.slug}/members/{membership.id}/remove", {})
    assert invitee_client.get(f"/orgs/{org.slug}/manage").status_code == 404


def test_expired_invitation_is_refused(app, db_session, sign_in, send_mail, mailbox):
    owner = make_user(db_session)
    invitee = make_user(db_session)
    org = make_org(db_session, owner=owner)
    _post(sign_in(owner), f"/orgs/{org.slug}/invite", {"email": invitee.email, "role": "staff"})
    send_mail()
    link = _link(mailbox[0])
    invitation = db_session.scalars(select(OrgInvitation)).one()
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db_session.commit()
    client = sign_in(invitee)
    response = _post(client, link, {})
    assert response.status_code == 410 and "有効期限が切れています" in _text(response)
    assert db_session.scalar(select(Membership).where(Membership.user_id == invitee.id)) is None


def test_invitation_lifetime_comes_from_config(app, db_session, sign_in):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner)
    _post(sign_in(owner), f"/orgs/{org.slug}/invite", {"email": "late@example.jp", "role": "staff"})
    invitation = db_session.scalars(select(OrgInvitation)).one()
    lifetime = invitation.expires_at - invitation.created_at
    assert abs(lifetime - timedelta(hours=app.config["INVITE_TOKEN_HOURS"])) < timedelta(minutes=1)


# --- public pages --------------------------------------------------------------------------


def test_directory_lists_approved_only_with_search_and_filters(client, db_session):
    make_org(db_session, name="あおぞら子ども食堂", activity_categories=[13], municipality_code="202011")
    make_org(
        db_session,
        name="安曇野ネイチャーの会",
        activity_categories=[7],
        municipality_code="202207",
        description="自然観察",
        strengths=["自然観察"],
    )
    for status in (OrgStatus.DRAFT, OrgStatus.UNDER_REVIEW, OrgStatus.SUSPENDED, OrgStatus.REJECTED):
        make_org(db_session, name=f"非公開の団体{status.value}", status=status)
    db_session.commit()
    text = _text(client.get("/orgs/"))
    assert "あおぞら子ども食堂" in text and "安曇野ネイチャーの会" in text and "非公開の団体" not in text
    assert "2件の団体" in text
    by_category = _text(client.get("/orgs/?category=7"))
    assert "安曇野ネイチャーの会" in by_category and "あおぞら子ども食堂" not in by_category
    by_place = _text(client.get("/orgs/?municipality=202011"))
    assert "あおぞら子ども食堂" in by_place and "安曇野ネイチャーの会" not in by_place
    by_word = _text(client.get("/orgs/?q=ネイチャー"))
    assert "安曇野ネイチャーの会" in by_word and "あおぞら子ども食堂" not in by_word
    # Nonsense filters are ignored rather than failing.
    assert client.get("/orgs/?category=99&municipality=x&page=-3").status_code == 200


def test_directory_paginates(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for i in range(5):
        make_org(db_session, name=f"団体{i}", name_kana=f"ダンタイ{i}")
    db_session.commit()
    first, last = _text(client.get("/orgs/")), _text(client.get("/orgs/?page=3"))
    assert "団体0" in first and "団体2" not in first and "団体4" in last and "1 / 3" in first


def test_profile_is_public_for_approved_only_and_hides_personal_data(client, db_session, sign_in):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner)
    officer_name, officer_address = org.officers[0].name, org.officers[0].address
    db_session.commit()
    text = _text(client.get(f"/orgs/{org.slug}"))
    assert org.name in text and "NPO法人" in text and "長野市" in text and "子ども食堂" in text
    assert "保健・医療・福祉" in text and "https://example.jp/" in text
    assert officer_name not in text and officer_address not in text
    assert org.corporate_number in text  # public registry data
    for status in (OrgStatus.DRAFT, OrgStatus.SUBMITTED, OrgStatus.REJECTED, OrgStatus.SUSPENDED):
        hidden = make_org(db_session, owner=owner, status=status)
        db_session.commit()
        assert client.get(f"/orgs/{hidden.slug}").status_code == 404
        assert sign_in(owner).get(f"/orgs/{hidden.slug}").status_code == 404


def test_review_queue_filters_by_status_and_name(db_session, sign_in):
    make_org(db_session, name="審査待ちの会", status=OrgStatus.SUBMITTED, submitted_at=utcnow())
    make_org(db_session, name="承認済みの会")
    client = sign_in(make_user(db_session, role=UserRole.ADMIN))
    default = _text(client.get("/orgs/review"))
    assert "審査待ちの会" in default and "承認済みの会" not in default
    approved = _text(client.get("/orgs/review?status=approved"))
    assert "承認済みの会" in approved and "審査待ちの会" not in approved
    assert "承認済みの会" in _text(client.get("/orgs/review?status=all&q=承認"))
    assert "審査待ちの会" not in _text(client.get("/orgs/review?status=all&q=承認"))
