"""The screening table, exhaustively: every legal row, every illegal (state, action) pair, every wrong role."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.orgs.models import MemberRole, Membership, OrgStatus
from kyodo_fund.orgs.services import Incomplete, transition_org
from kyodo_fund.orgs.workflow import WORKFLOW, roles_of
from kyodo_fund.workflow import (
    InvalidTransition,
    NotPermitted,
    ReasonRequired,
    apply_transition,
    available_transitions,
    transition_pairs,
)
from tests.factories import make_org, make_user

PAIRS = list(transition_pairs(WORKFLOW))
LEGAL = [(s, a) for s, a in PAIRS if WORKFLOW.find(s, a) is not None]
ILLEGAL = [(s, a) for s, a in PAIRS if WORKFLOW.find(s, a) is None]
PERSONAS = ("owner", "staff", "reviewer", "admin", "donor", "anonymous")
#: The persona that takes each role in these tests.
ROLE_PERSONA = {"owner": "owner", "staff": "staff", "reviewer": "reviewer", "admin": "admin"}


@pytest.fixture
def people(db_session):
    return {
        "owner": make_user(db_session, locale="ja"),
        "staff": make_user(db_session, locale="en"),
        "reviewer": make_user(db_session, role=UserRole.REVIEWER),
        "admin": make_user(db_session, role=UserRole.ADMIN),
        "donor": make_user(db_session),
        "anonymous": None,
    }


@pytest.fixture
def org_in(db_session, people):
    def _make(status: OrgStatus):
        org = make_org(db_session, owner=people["owner"], status=status)
        org.memberships.append(Membership(user_id=people["staff"].id, role=MemberRole.STAFF))
        db_session.flush()
        return org

    return _make


def test_table_covers_every_status_and_the_brief():
    assert WORKFLOW.states() == set(OrgStatus)
    rows = {(t.source.value, t.action): (t.target.value, set(t.who), t.needs_reason) for t in WORKFLOW.transitions}
    members, reviewers, admins = {"owner", "staff"}, {"reviewer", "admin"}, {"admin"}
    assert rows == {
        ("draft", "submit"): ("submitted", members, False),
        ("submitted", "start_review"): ("under_review", reviewers, False),
        ("under_review", "request_info"): ("more_info_needed", reviewers, True),
        ("more_info_needed", "resubmit"): ("resubmitted", members, False),
        ("resubmitted", "start_review"): ("under_review", reviewers, False),
        ("under_review", "approve"): ("approved", reviewers, False),
        ("under_review", "reject"): ("rejected", reviewers, True),
        ("approved", "suspend"): ("suspended", admins, True),
        ("suspended", "reinstate"): ("approved", admins, False),
    }
    assert {t.action: t.notify for t in WORKFLOW.transitions if t.notify} == {
        "request_info": "org_request_info",
        "approve": "org_approve",
        "reject": "org_reject",
        "suspend": "org_suspend",
        "reinstate": "org_reinstate",
    }


@pytest.mark.parametrize(("state", "action"), LEGAL, ids=[f"{s.value}-{a}" for s, a in LEGAL])
def test_every_legal_transition_moves_audits_and_notifies(app_ctx, db_session, people, org_in, state, action):
    t = WORKFLOW.find(state, action)
    org = org_in(state)
    actor_user = people[ROLE_PERSONA[sorted(t.who)[0]]]
    apply_transition(db_session, WORKFLOW, org, action, Actor(actor_user, "192.0.2.9"), reason="確認しました")
    assert org.status is t.target
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == f"orgs.{action}")).one()
    assert (entry.object_type, entry.object_id) == ("Organisation", str(org.id))
    assert (entry.before, entry.after) == ({"status": state.value}, {"status": t.target.value})
    assert entry.actor_id == actor_user.id and entry.note == "確認しました"
    sent_to = sorted(db_session.scalars(select(OutboxMessage.to_address)))
    if t.notify:
        assert sent_to == sorted([people["owner"].email, people["staff"].email])
    else:
        assert sent_to == []


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s.value}-{a}" for s, a in ILLEGAL])
def test_every_illegal_pair_is_refused_for_everyone(db_session, people, org_in, state, action):
    org = org_in(state)
    for persona in PERSONAS:
        with pytest.raises(InvalidTransition):
            apply_transition(db_session, WORKFLOW, org, action, Actor(people[persona]), reason="理由")
        assert org.status is state
    assert db_session.scalars(select(AuditEntry)).first() is None


WRONG_ROLE = [
    (s, a, p) for s, a in LEGAL for p in PERSONAS if not ({p} if p in ROLE_PERSONA else set()) & WORKFLOW.find(s, a).who
]


@pytest.mark.parametrize(
    ("state", "action", "persona"), WRONG_ROLE, ids=[f"{s.value}-{a}-{p}" for s, a, p in WRONG_ROLE]
)
def test_wrong_role_is_not_permitted(db_session, people, org_in, state, action, persona):
    org = org_in(state)
    with pytest.raises(NotPermitted):
        apply_transition(db_session, WORKFLOW, org, action, Actor(people[persona]), reason="理由")
    assert org.status is state


NEEDS_REASON = [(s, a) for s, a in LEGAL if WORKFLOW.find(s, a).needs_reason]


@pytest.mark.parametrize(("state", "action"), NEEDS_REASON, ids=[f"{s.value}-{a}" for s, a in NEEDS_REASON])
def test_reason_is_required(db_session, people, org_in, state, action):
    org = org_in(state)
    actor = Actor(people[sorted(WORKFLOW.find(state, action).who)[0]])
    for blank in (None, "", "  \n "):
        with pytest.raises(ReasonRequired):
            apply_transition(db_session, WORKFLOW, org, action, actor, reason=blank)
    assert org.status is state


#: The link each notifying mail carries (PUBLIC_BASE_URL, never the request's host), or None.
MAIL_LINKS = {"request_info": "/orgs/{slug}/manage", "approve": "/orgs/{slug}", "reject": None}


@pytest.mark.parametrize("action", sorted(MAIL_LINKS))
def test_notifications_reach_members_through_smtp(app, app_ctx, db_session, people, org_in, send_mail, mailbox, action):
    org = org_in(OrgStatus.UNDER_REVIEW)
    apply_transition(
        db_session, WORKFLOW, org, action, Actor(people["reviewer"]), reason="定款の写しを添付してください"
    )
    assert send_mail()["sent"] == 2
    assert sorted(m["To"] for m in mailbox) == sorted([people["owner"].email, people["staff"].email])
    message = mailbox[0]
    assert org.name in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "定款の写しを添付してください" in body
    if MAIL_LINKS[action]:
        url = app.config["PUBLIC_BASE_URL"] + MAIL_LINKS[action].format(slug=org.slug)
        assert url + "\n" in body


def test_suspend_and_reinstate_mail_members(app_ctx, db_session, people, org_in, send_mail, mailbox):
    org = org_in(OrgStatus.APPROVED)
    apply_transition(db_session, WORKFLOW, org, "suspend", Actor(people["admin"]), reason="報告書の未提出")
    apply_transition(db_session, WORKFLOW, org, "reinstate", Actor(people["admin"]))
    assert send_mail()["sent"] == 4
    subjects = [m["Subject"] for m in mailbox]
    # Each member gets the mail in their own language (one of the members reads English).
    assert sum(("停止" in s) or ("suspended" in s) for s in subjects) == 2
    assert sum(("再開" in s) or ("resumed" in s) for s in subjects) == 2


def test_roles_of(db_session, people, org_in):
    org = org_in(OrgStatus.DRAFT)
    assert roles_of(people["owner"], org) == {"owner"}
    assert roles_of(people["staff"], org) == {"staff"}
    assert roles_of(people["reviewer"], org) == {"reviewer"}
    assert roles_of(people["admin"], org) == {"admin"}
    assert roles_of(people["donor"], org) == set()
    assert roles_of(None, org) == set()


def test_staff_cannot_screen_their_own_organisation(db_session, people):
    org = make_org(db_session, owner=people["reviewer"], status=OrgStatus.UNDER_REVIEW)
    assert roles_of(people["reviewer"], org) == {"owner"}
    with pytest.raises(NotPermitted):
        apply_transition(db_session, WORKFLOW, org, "approve", Actor(people["reviewer"]))
    assert available_transitions(WORKFLOW, org, people["reviewer"]) == []


def test_submit_requires_a_complete_organisation_and_lists_what_is_missing(db_session, people):
    org = make_org(
        db_session,
        owner=people["owner"],
        status=OrgStatus.DRAFT,
        corporate_number=None,
        email="",
        activity_categories=[],
        strengths=[],
        officers=[],
    )
    with pytest.raises(Incomplete) as caught:
        transition_org(db_session, Actor(people["owner"]), org, "submit")
    assert [str(m) for m in caught.value.missing] == [
        "法人番号",
        "連絡先メールアドレス",
        "活動分野（1つ以上）",
        "団体の強み・得意なこと（1つ以上）",
        "役員（1名以上）",
    ]
    assert org.status is OrgStatus.DRAFT
    assert db_session.scalars(select(AuditEntry)).first() is None


def test_outsiders_get_not_permitted_not_the_missing_list(db_session, people):
    org = make_org(db_session, owner=people["owner"], status=OrgStatus.DRAFT, officers=[])
    with pytest.raises(NotPermitted):
        transition_org(db_session, Actor(people["donor"]), org, "submit")


def test_timestamps_across_the_whole_life(app_ctx, db_session, people):
    org = make_org(db_session, owner=people["owner"], status=OrgStatus.DRAFT)
    assert org.submitted_at is None and org.approved_at is None
    member, reviewer, admin = Actor(people["owner"]), Actor(people["reviewer"]), Actor(people["admin"])
    transition_org(db_session, member, org, "submit")
    first_submission = org.submitted_at
    assert first_submission is not None
    transition_org(db_session, reviewer, org, "start_review")
    transition_org(db_session, reviewer, org, "request_info", "代表者名の確認をお願いします")
    transition_org(db_session, member, org, "resubmit")
    # A returned application keeps its place in the queue.
    assert org.status is OrgStatus.RESUBMITTED and org.submitted_at == first_submission
    transition_org(db_session, reviewer, org, "start_review")
    transition_org(db_session, reviewer, org, "approve")
    first_approval = org.approved_at
    assert org.status is OrgStatus.APPROVED and first_approval is not None
    transition_org(db_session, admin, org, "suspend", "活動実態の確認のため")
    transition_org(db_session, admin, org, "reinstate")
    assert org.status is OrgStatus.APPROVED and org.approved_at == first_approval
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == [
        "orgs.submit",
        "orgs.start_review",
        "orgs.request_info",
        "orgs.resubmit",
        "orgs.start_review",
        "orgs.approve",
        "orgs.suspend",
        "orgs.reinstate",
    ]


def test_unincorporated_groups_may_submit_without_corporate_number(db_session, people):
    from kyodo_fund.orgs.data import LegalForm

    org = make_org(db_session, owner=people["owner"], status=OrgStatus.DRAFT, legal_form=LegalForm.NIN_I)
    org.corporate_number = None
    transition_org(db_session, Actor(people["owner"]), org, "submit")
    assert org.status is OrgStatus.SUBMITTED
