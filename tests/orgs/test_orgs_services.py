from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.db import utcnow
from kyodo_fund.orgs.data import LegalForm
from kyodo_fund.orgs.documents import DocumentRejected, display_filename, document_path, store_document
from kyodo_fund.orgs.members import (
    InvitationExpired,
    InvitationNotFound,
    accept_invitation,
    find_invitation,
    invite_member,
    remove_member,
)
from kyodo_fund.orgs.models import DocumentKind, MemberRole, Membership, Organisation, OrgStatus
from kyodo_fund.orgs.services import (
    NotEditable,
    OrgError,
    add_officer,
    directory_query,
    parse_strengths,
    register_org,
    remove_officer,
    review_queue_query,
    slug_problem,
    update_org,
)
from kyodo_fund.workflow import NotPermitted
from tests.factories import make_org, make_user

BASIC = {"name": "信州もりの会", "legal_form": "nin_i"}


def test_register_creates_a_draft_owned_by_the_user_with_a_generated_slug(db_session):
    user = make_user(db_session)
    org = register_org(db_session, Actor(user), {**BASIC, "strengths": "森林整備、 環境教育,森林整備"})
    assert org.status is OrgStatus.DRAFT and org.slug == f"org-{org.id}"
    assert [(m.user_id, m.role) for m in org.memberships] == [(user.id, MemberRole.OWNER)]
    assert org.strengths == ["森林整備", "環境教育"]
    assert org.legal_form is LegalForm.NIN_I
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "orgs.register")).one()
    assert entry.after == {"name": "信州もりの会", "slug": org.slug}


def test_chosen_slug_must_be_free_ascii_and_not_reserved(db_session):
    user = make_user(db_session)
    register_org(db_session, Actor(user), {**BASIC, "slug": "shinshu-mori"})
    with pytest.raises(OrgError) as caught:
        register_org(db_session, Actor(user), {**BASIC, "slug": "shinshu-mori"})
    assert caught.value.field == "slug"
    for bad in ("new", "review", "org-12", "しんしゅう", "a", "-abc", "abc-", "ab--cd", "UPPER"):
        assert slug_problem(bad) is not None, bad
    assert slug_problem("shinshu-mori-2") is None


def test_service_refuses_invalid_corporate_number_website_and_municipality(db_session):
    user = make_user(db_session)
    cases = {
        "corporate_number": {"corporate_number": "8000012050002"},
        "website": {"website": "javascript:alert(1)"},
        "municipality_code": {"municipality_code": "131016"},  # 千代田区 is not in Nagano
    }
    for field, extra in cases.items():
        with pytest.raises(OrgError) as caught:
            register_org(db_session, Actor(user), {**BASIC, **extra})
        assert caught.value.field == field
    assert db_session.scalar(select(Organisation.id)) is None


def test_categories_and_strengths_are_diffed_not_replaced(db_session):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT, activity_categories=[1, 3])
    data = {**BASIC, "activity_categories": [3, 7], "strengths": "高齢者の見守り、防災"}
    changed = update_org(db_session, Actor(owner), org, data)
    assert org.activity_categories == [3, 7]
    assert org.strengths == ["高齢者の見守り", "防災"]
    assert {"activity_categories", "strengths", "name"} <= set(changed)
    db_session.expire_all()
    assert sorted(db_session.get(Organisation, org.id).activity_categories) == [3, 7]


@pytest.mark.parametrize("status", [s for s in OrgStatus if s not in (OrgStatus.DRAFT, OrgStatus.MORE_INFO_NEEDED)])
def test_editing_only_in_draft_and_more_info_needed(db_session, status):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=status)
    with pytest.raises(NotEditable):
        update_org(db_session, Actor(owner), org, {**BASIC})
    with pytest.raises(NotEditable):
        add_officer(db_session, Actor(owner), org, {"name": "監事 次郎", "title": "auditor", "address": "長野市"})
    with pytest.raises(NotEditable):
        remove_officer(db_session, Actor(owner), org, org.officers[0].id)
    assert org.name != BASIC["name"] and len(org.officers) == 1


def test_officers_are_added_and_removed_without_personal_data_in_the_audit_log(db_session):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.MORE_INFO_NEEDED)
    officer = add_officer(
        db_session,
        Actor(owner),
        org,
        {"name": "監事 次郎", "title": "auditor", "address": "長野県松本市丸の内3-7", "household_label": "A"},
    )
    assert len(org.officers) == 2 and officer.household_label == "A" and not officer.is_paid
    remove_officer(db_session, Actor(owner), org, officer.id)
    assert [o.id for o in org.officers] != [officer.id] and len(org.officers) == 1
    logged = db_session.scalars(select(AuditEntry).where(AuditEntry.action.like("orgs.officer_%"))).all()
    assert [e.action for e in logged] == ["orgs.officer_added", "orgs.officer_removed"]
    assert all("松本" not in str(e.after) + str(e.before) for e in logged)
    with pytest.raises(LookupError):
        remove_officer(db_session, Actor(owner), org, 999_999)


def test_parse_strengths():
    assert parse_strengths("子ども食堂、見守り，IT支援\n見守り, ,") == ["子ども食堂", "見守り", "IT支援"]
    assert parse_strengths("") == []


def test_directory_shows_only_approved_and_filters(db_session):
    make_org(db_session, name="あおぞら子ども食堂", name_kana="アオゾラ", activity_categories=[13])
    make_org(
        db_session,
        name="松本みどりの会",
        municipality_code="202029",
        activity_categories=[7],
        description="里山の保全",
        strengths=["森林整備"],
    )
    for status in (OrgStatus.DRAFT, OrgStatus.SUBMITTED, OrgStatus.SUSPENDED, OrgStatus.REJECTED):
        make_org(db_session, name=f"非公開{status.value}", status=status)

    def names(**kw):
        return [o.name for o in db_session.scalars(directory_query(**kw))]

    assert sorted(names()) == ["あおぞら子ども食堂", "松本みどりの会"]
    assert names(category=7) == ["松本みどりの会"]
    assert names(municipality_code="202029") == ["松本みどりの会"]
    assert names(text="子ども") == ["あおぞら子ども食堂"]
    assert names(text="アオゾラ") == ["あおぞら子ども食堂"]
    assert names(text="森林") == ["松本みどりの会"]  # strength tags are searched too
    assert names(text="100%") == []  # LIKE wildcards are escaped


def test_review_queue_is_oldest_submission_first(db_session):
    now = utcnow()
    make_org(db_session, name="新しい", status=OrgStatus.SUBMITTED, submitted_at=now)
    make_org(db_session, name="古い", status=OrgStatus.RESUBMITTED, submitted_at=now - timedelta(days=3))
    make_org(db_session, name="審査中", status=OrgStatus.UNDER_REVIEW, submitted_at=now - timedelta(days=1))
    make_org(db_session, name="承認済", status=OrgStatus.APPROVED)
    assert [o.name for o in db_session.scalars(review_queue_query())] == ["古い", "審査中", "新しい"]
    assert [o.name for o in db_session.scalars(review_queue_query(statuses=(OrgStatus.APPROVED,)))] == ["承認済"]
    assert [o.name for o in db_session.scalars(review_queue_query(text="古"))] == ["古い"]


# --- documents -----------------------------------------------------------------------------


def _store(db_session, org, user, data: bytes, filename: str = "teikan.pdf", max_bytes: int = 1024 * 1024, tmp=None):
    return store_document(
        db_session,
        Actor(user),
        org,
        kind=DocumentKind.ARTICLES,
        filename=filename,
        stream=io.BytesIO(data),
        upload_dir=str(tmp),
        max_bytes=max_bytes,
    )


def test_pdf_is_stored_under_a_random_name(db_session, tmp_path, pdf_bytes):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    doc = _store(db_session, org, owner, pdf_bytes, filename="../../etc/定款.pdf", tmp=tmp_path)
    path = document_path(str(tmp_path), doc)
    assert path.parent == tmp_path / "orgs" / str(org.id)
    assert len(doc.stored_name) == 32 and path.read_bytes() == pdf_bytes
    assert doc.original_filename == "定款.pdf" and doc.size_bytes == len(pdf_bytes)
    import hashlib

    assert doc.sha256 == hashlib.sha256(pdf_bytes).hexdigest()


@pytest.mark.parametrize(
    ("data", "filename", "max_bytes"),
    [
        (b"just text, renamed", "notes.pdf", 1024),
        (b"%PDF-1.7 but named otherwise", "scan.exe", 1024),
        (b"%PDF-1.7" + b"0" * 2000, "big.pdf", 1024),
        (b"", "empty.pdf", 1024),
    ],
    ids=["not-a-pdf", "wrong-extension", "too-big", "empty"],
)
def test_non_pdfs_and_oversized_files_are_rejected(db_session, tmp_path, data, filename, max_bytes):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.DRAFT)
    with pytest.raises(DocumentRejected):
        _store(db_session, org, owner, data, filename=filename, max_bytes=max_bytes, tmp=tmp_path)
    assert not (tmp_path / "orgs").exists()


def test_no_uploads_while_under_screening(db_session, tmp_path, pdf_bytes):
    owner = make_user(db_session)
    org = make_org(db_session, owner=owner, status=OrgStatus.UNDER_REVIEW)
    with pytest.raises(OrgError):
        _store(db_session, org, owner, pdf_bytes, tmp=tmp_path)


def test_display_filename_keeps_only_the_last_segment():
    assert display_filename("C:\\Users\\a\\役員名簿.pdf") == "役員名簿.pdf"
    assert display_filename("a\x00b\r\n.pdf") == "ab.pdf"
    assert display_filename("") == "document.pdf"


# --- members -------------------------------------------------------------------------------


def test_invitation_accept_expire_and_wrong_user(app_ctx, db_session):
    owner = make_user(db_session)
    invitee = make_user(db_session, "Invitee@Example.jp".lower())
    other = make_user(db_session)
    org = make_org(db_session, owner=owner)
    invitation = invite_member(
        db_session, Actor(owner), org, email="Invitee@Example.jp", role=MemberRole.STAFF, valid_hours=1
    )
    assert invitation.email == "invitee@example.jp" and len(invitation.token_hash) == 64
    from kyodo_fund.notifications.models import OutboxMessage

    mail = db_session.scalars(select(OutboxMessage)).one()
    token = mail.body_text.split("/orgs/invitations/")[1].split()[0]
    assert invitation.token_hash != token  # only the hash is stored
    with pytest.raises(InvitationNotFound):
        find_invitation(db_session, token, other)
    with pytest.raises(InvitationNotFound):
        find_invitation(db_session, "not-a-token", invitee)
    membership = accept_invitation(db_session, Actor(invitee), token)
    assert (membership.user_id, membership.role) == (invitee.id, MemberRole.STAFF)
    with pytest.raises(InvitationNotFound):  # single use
        accept_invitation(db_session, Actor(invitee), token)

    late = invite_member(db_session, Actor(owner), org, email=other.email, role=MemberRole.STAFF, valid_hours=1)
    late.expires_at = utcnow() - timedelta(seconds=1)
    late_token = db_session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    late_token = late_token.body_text.split("/orgs/invitations/")[1].split()[0]
    with pytest.raises(InvitationExpired):
        accept_invitation(db_session, Actor(other), late_token)
    assert org.membership_of(other.id) is None


def test_only_owners_invite_and_remove_and_owners_stay(app_ctx, db_session):
    owner = make_user(db_session)
    staff = make_user(db_session)
    org = make_org(db_session, owner=owner)
    org.memberships.append(Membership(user_id=staff.id, role=MemberRole.STAFF))
    db_session.flush()
    with pytest.raises(NotPermitted):
        invite_member(db_session, Actor(staff), org, email="x@example.jp", role=MemberRole.STAFF, valid_hours=1)
    with pytest.raises(OrgError):
        invite_member(db_session, Actor(owner), org, email=staff.email, role=MemberRole.STAFF, valid_hours=1)
    owner_membership = org.membership_of(owner.id)
    with pytest.raises(NotPermitted):
        remove_member(db_session, Actor(staff), org, owner_membership.id)
    with pytest.raises(OrgError):
        remove_member(db_session, Actor(owner), org, owner_membership.id)
    remove_member(db_session, Actor(owner), org, org.membership_of(staff.id).id)
    assert org.membership_of(staff.id) is None
    assert db_session.scalar(select(AuditEntry.action).where(AuditEntry.action == "orgs.member_removed"))
