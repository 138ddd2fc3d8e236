"""The project workflow table, exhaustively: every legal row and every illegal (state, action) pair,
who may take each action, and what submitting needs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.audit import SYSTEM, Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.orgs.models import OrgStatus
from kyodo_fund.projects.models import ProjectStatus, today_in_tokyo
from kyodo_fund.projects.services import Incomplete, UseReportForm, transition_project
from kyodo_fund.projects.workflow import TRANSITIONS, WORKFLOW, roles_of
from kyodo_fund.workflow import (
    InvalidTransition,
    NotPermitted,
    ReasonRequired,
    apply_transition,
    available_transitions,
    transition_pairs,
)
from tests.factories import make_org, make_project

LEGAL = {(t.source, t.action) for t in TRANSITIONS}
ILLEGAL = [pair for pair in transition_pairs(WORKFLOW) if pair not in LEGAL]

#: One actor (from the ``cast`` fixture; None = the scheduler) per role string of the table.
ROLE_ACTORS = {"owner": "owner_a", "staff": "staff_a", "reviewer": "reviewer", "admin": "admin", "system": None}


def _actor(cast, role: str) -> Actor:
    name = ROLE_ACTORS[role]
    return SYSTEM if name is None else Actor(user=getattr(cast, name))


def test_the_table_covers_every_status_and_the_pairs_are_exhaustive():
    assert WORKFLOW.states() == set(ProjectStatus)
    assert len(LEGAL) == len(TRANSITIONS) == 11
    assert len(ILLEGAL) == len(ProjectStatus) * len(WORKFLOW.actions()) - len(LEGAL)


@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: f"{t.source.value}-{t.action}")
def test_every_legal_transition_moves_audits_and_notifies(app_ctx, db_session, cast, transition):
    project = make_project(db_session, cast.org_a, status=transition.source)
    role = sorted(transition.who)[0]
    apply_transition(db_session, WORKFLOW, project, transition.action, _actor(cast, role), reason="理由です")

    assert project.status == transition.target
    entry = db_session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == f"projects.{transition.action}", AuditEntry.object_id == str(project.id)
        )
    )
    assert entry.before == {"status": transition.source.value} and entry.after == {"status": transition.target.value}
    mails = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == (transition.notify or "-"))).all()
    if transition.notify:
        # Both members of organisation A hear about it, and nobody else.
        assert sorted(m.to_address for m in mails) == sorted([cast.owner_a.email, cast.staff_a.email])
        assert project.title in mails[0].subject
    else:
        assert mails == []


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=lambda v: getattr(v, "value", v))
def test_every_illegal_pair_is_refused_and_changes_nothing(db_session, cast, state, action):
    project = make_project(db_session, cast.org_a, status=state)
    for actor in (Actor(user=cast.owner_a), Actor(user=cast.admin), SYSTEM):
        with pytest.raises(InvalidTransition):
            apply_transition(db_session, WORKFLOW, project, action, actor, reason="理由")
    assert project.status == state
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.object_id == str(project.id))) is None


@pytest.mark.parametrize("transition", TRANSITIONS, ids=lambda t: f"{t.source.value}-{t.action}")
def test_only_the_roles_in_the_table_may_act(db_session, cast, transition):
    outsiders = {
        "donor": Actor(user=cast.donor),
        "member of org B": Actor(user=cast.member_b),
        **{role: _actor(cast, role) for role in ROLE_ACTORS if role not in transition.who},
    }
    for label, actor in outsiders.items():
        project = make_project(db_session, cast.org_a, status=transition.source)
        with pytest.raises(NotPermitted):
            apply_transition(db_session, WORKFLOW, project, transition.action, actor, reason="理由")
        assert project.status == transition.source, label


def test_roles_of_each_visitor(db_session, cast):
    project = make_project(db_session, cast.org_a, status="submitted")
    assert roles_of(None, project) == {"system"}
    assert roles_of(cast.owner_a, project) == {"owner"}
    assert roles_of(cast.staff_a, project) == {"staff"}
    assert roles_of(cast.member_b, project) == set()
    assert roles_of(cast.donor, project) == set()
    assert roles_of(cast.reviewer, project) == {"reviewer"}
    assert roles_of(cast.admin, project) == {"admin"}


def test_staff_who_belong_to_the_organisation_cannot_screen_its_project(db_session, cast):
    from kyodo_fund.orgs.models import MemberRole, Membership

    db_session.add(Membership(organisation_id=cast.org_a.id, user_id=cast.reviewer.id, role=MemberRole.STAFF))
    db_session.flush()
    db_session.expire(cast.org_a, ["memberships"])
    project = make_project(db_session, cast.org_a, status="submitted")
    assert roles_of(cast.reviewer, project) == {"staff"}
    with pytest.raises(NotPermitted):
        apply_transition(db_session, WORKFLOW, project, "approve", Actor(user=cast.reviewer))


@pytest.mark.parametrize("action", ["reject", "request_info"])
def test_rejecting_and_asking_for_information_need_a_reason(db_session, cast, action):
    project = make_project(db_session, cast.org_a, status="submitted")
    with pytest.raises(ReasonRequired):
        apply_transition(db_session, WORKFLOW, project, action, Actor(user=cast.reviewer), reason="  ")
    assert project.status == ProjectStatus.SUBMITTED


def test_pages_offer_only_the_actors_own_buttons(db_session, cast):
    project = make_project(db_session, cast.org_a, status="submitted")
    assert [t.action for t in available_transitions(WORKFLOW, project, cast.owner_a)] == []
    assert {t.action for t in available_transitions(WORKFLOW, project, cast.reviewer)} == {
        "approve",
        "reject",
        "request_info",
    }
    assert available_transitions(WORKFLOW, project, None) == []


def test_timestamps_are_set_on_entering_states(app_ctx, db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft")
    owner, reviewer = Actor(user=cast.owner_a), Actor(user=cast.reviewer)
    apply_transition(db_session, WORKFLOW, project, "submit", owner)
    first_submission = project.submitted_at
    apply_transition(db_session, WORKFLOW, project, "request_info", reviewer, reason="予算の内訳を")
    apply_transition(db_session, WORKFLOW, project, "resubmit", owner)
    assert project.submitted_at == first_submission  # keeps its place in the queue
    apply_transition(db_session, WORKFLOW, project, "approve", reviewer)
    apply_transition(db_session, WORKFLOW, project, "publish", SYSTEM)
    apply_transition(db_session, WORKFLOW, project, "close", owner)
    assert project.approved_at and project.published_at and project.closed_at


# --- submitting: what a project needs to leave draft -------------------------------------


def _submit(db_session, app, cast, project, action="submit"):
    return transition_project(db_session, Actor(user=cast.owner_a), project, action, app.config)


def test_a_complete_project_is_submitted(app, db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft")
    _submit(db_session, app, cast, project)
    assert project.status == ProjectStatus.SUBMITTED


def _missing(db_session, app, cast, project, action="submit") -> list[str]:
    with pytest.raises(Incomplete) as caught:
        _submit(db_session, app, cast, project, action)
    assert project.status in (ProjectStatus.DRAFT, ProjectStatus.MORE_INFO_NEEDED)
    return [str(m) for m in caught.value.missing]


def test_submit_without_an_outcome_target_is_refused(app, db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft", targets=[])
    assert any("成果目標" in m for m in _missing(db_session, app, cast, project))


def test_submit_with_a_goal_below_the_minimum_is_refused(app, db_session, cast):
    minimum = app.config["DONATION_MIN_AMOUNT_YEN"]
    project = make_project(db_session, cast.org_a, status="draft", goal_yen=minimum - 1)
    assert _missing(db_session, app, cast, project) == [f"目標金額を{minimum:,}円以上にしてください。"]
    project.goal_yen = minimum
    _submit(db_session, app, cast, project)
    assert project.status == ProjectStatus.SUBMITTED


def test_submit_with_a_target_due_after_the_end_is_refused(app, db_session, cast):
    end = today_in_tokyo() + timedelta(days=30)
    project = make_project(
        db_session,
        cast.org_a,
        status="draft",
        ends_on=end,
        targets=[{"indicator": "参加者", "target_value": 50, "unit": "人", "due_on": end + timedelta(days=1)}],
    )
    missing = _missing(db_session, app, cast, project)
    assert len(missing) == 1 and "参加者" in missing[0] and end.isoformat() in missing[0]


def test_submit_by_an_organisation_that_is_not_approved_is_refused(app, db_session, cast):
    cast.org_a.status = OrgStatus.SUSPENDED
    project = make_project(db_session, cast.org_a, status="draft")
    assert any("承認されていません" in m for m in _missing(db_session, app, cast, project))


def test_every_problem_is_listed_at_once(app, db_session, cast):
    cast.org_a.status = OrgStatus.SUSPENDED
    project = make_project(db_session, cast.org_a, status="draft", targets=[], goal_yen=1, body="")
    assert len(_missing(db_session, app, cast, project)) == 4


def test_an_overdue_evaluation_report_blocks_new_submissions(app, db_session, cast, time_machine):
    due_days = app.config["PROJECT_REPORT_DUE_DAYS"]
    ended = today_in_tokyo() - timedelta(days=due_days + 1)
    make_project(
        db_session,
        cast.org_a,
        status="closed",
        title="去年の事業",
        starts_on=ended - timedelta(days=30),
        ends_on=ended,
        targets=[{"indicator": "x", "target_value": 1, "unit": "回", "due_on": ended}],
    )
    project = make_project(db_session, cast.org_a, status="draft")
    missing = _missing(db_session, app, cast, project)
    assert len(missing) == 1 and "去年の事業" in missing[0]
    # Another organisation is not blocked by A's overdue report.
    other = make_project(db_session, cast.org_b, status="draft")
    transition_project(db_session, Actor(user=cast.member_b), other, "submit", app.config)
    assert other.status == ProjectStatus.SUBMITTED


def test_a_report_not_yet_due_does_not_block(app, db_session, cast):
    ended = today_in_tokyo() - timedelta(days=app.config["PROJECT_REPORT_DUE_DAYS"])
    make_project(db_session, cast.org_a, status="closed", starts_on=ended, ends_on=ended, targets=[])
    project = make_project(db_session, cast.org_a, status="draft")
    _submit(db_session, app, cast, project)
    assert project.status == ProjectStatus.SUBMITTED


def test_the_overdue_rule_can_be_switched_off(app, db_session, cast):
    ended = today_in_tokyo() - timedelta(days=365)
    make_project(db_session, cast.org_a, status="closed", starts_on=ended, ends_on=ended, targets=[])
    project = make_project(db_session, cast.org_a, status="draft")
    config = {**app.config, "PROJECT_BLOCK_ON_OVERDUE_REPORT": False}
    transition_project(db_session, Actor(user=cast.owner_a), project, "submit", config)
    assert project.status == ProjectStatus.SUBMITTED


def test_resubmission_is_checked_too(app, db_session, cast):
    project = make_project(db_session, cast.org_a, status="more_info_needed", targets=[])
    assert any("成果目標" in m for m in _missing(db_session, app, cast, project, "resubmit"))


def test_outsiders_learn_nothing_about_what_is_missing(app, db_session, cast):
    project = make_project(db_session, cast.org_a, status="draft", targets=[])
    with pytest.raises(NotPermitted):
        transition_project(db_session, Actor(user=cast.member_b), project, "submit", app.config)


def test_people_never_act_as_the_system(app, db_session, cast):
    project = make_project(db_session, cast.org_a, status="approved")
    with pytest.raises(NotPermitted):
        transition_project(db_session, Actor(user=None, ip="198.51.100.7"), project, "publish", app.config)
    assert project.status == ProjectStatus.APPROVED


def test_the_report_step_is_only_taken_by_posting_an_evaluation_report(app, db_session, cast):
    project = make_project(db_session, cast.org_a, status="closed")
    with pytest.raises(UseReportForm):
        transition_project(db_session, Actor(user=cast.owner_a), project, "report", app.config)
    assert project.status == ProjectStatus.CLOSED


def test_an_organisation_that_is_not_approved_cannot_create_projects(db_session, cast):
    from kyodo_fund.projects.services import ProjectError, create_project

    draft_org = make_org(db_session, owner=cast.owner_a, status="draft")
    data = {
        "title": "t",
        "summary": "s",
        "body": "",
        "activity_category": 1,
        "municipality_code": "202011",
        "goal_yen": 5000,
        "starts_on": today_in_tokyo(),
        "ends_on": today_in_tokyo(),
    }
    with pytest.raises(ProjectError):
        create_project(db_session, Actor(user=cast.owner_a), draft_org, data)
    assert create_project(db_session, Actor(user=cast.owner_a), cast.org_a, data).status == ProjectStatus.DRAFT
