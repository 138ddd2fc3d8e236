"""Screening and life of a project: the one table every status change goes through.

draft → submitted → approved / rejected, with a loop through more_info_needed → resubmitted;
approved → published (on the start date, by the scheduler, or earlier by staff) → closed (at the end
date, or earlier by the organisation) → reported (when the evaluation report is posted).
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kyodo_fund.db import utcnow
from kyodo_fund.orgs.workflow import members_of
from kyodo_fund.orgs.workflow import roles_of as org_roles
from kyodo_fund.projects.models import Project, ProjectStatus
from kyodo_fund.workflow import Transition, Workflow

S = ProjectStatus
MEMBERS = frozenset({"owner", "staff"})
REVIEWERS = frozenset({"reviewer", "admin"})
#: The scheduler (``audit.SYSTEM``, no user) publishes and closes on the project's dates.
SYSTEM = "system"


def _screening(source: ProjectStatus) -> tuple[Transition, ...]:
    return (
        Transition(source, "approve", S.APPROVED, REVIEWERS, _l("承認する"), notify="project_approve"),
        Transition(
            source,
            "request_info",
            S.MORE_INFO_NEEDED,
            REVIEWERS,
            _l("追加情報を依頼する"),
            needs_reason=True,
            notify="project_request_info",
            tone="secondary",
        ),
        Transition(
            source,
            "reject",
            S.REJECTED,
            REVIEWERS,
            _l("却下する"),
            needs_reason=True,
            notify="project_reject",
            tone="danger",
        ),
    )


TRANSITIONS = (
    Transition(S.DRAFT, "submit", S.SUBMITTED, MEMBERS, _l("審査を申請する")),
    *_screening(S.SUBMITTED),
    Transition(S.MORE_INFO_NEEDED, "resubmit", S.RESUBMITTED, MEMBERS, _l("再申請する")),
    *_screening(S.RESUBMITTED),
    Transition(
        S.APPROVED, "publish", S.PUBLISHED, REVIEWERS | {SYSTEM}, _l("今すぐ公開する"), notify="project_publish"
    ),
    Transition(S.PUBLISHED, "close", S.CLOSED, MEMBERS | {SYSTEM}, _l("寄附の募集を終了する"), tone="secondary"),
    # Taken only by posting an evaluation report (``reports.post_report``), never by a bare button.
    Transition(S.CLOSED, "report", S.REPORTED, MEMBERS, _l("評価報告を提出する")),
)


def roles_of(user: Any, project: Project) -> set[str]:
    """``{"system"}`` for the scheduler (no user); otherwise the organisation's rule (members, then staff)."""
    if user is None:
        return {SYSTEM}
    return org_roles(user, project.organisation)


def member_recipients(session: Session, project: Project) -> list[tuple[str, str]]:
    return members_of(session, project.organisation_id)


def _stamp(attr: str, *, keep_first: bool = False):
    def hook(_session: Session, project: Project, _actor: Any) -> None:
        if not (keep_first and getattr(project, attr)):
            setattr(project, attr, utcnow())

    return hook


WORKFLOW = Workflow(
    name="projects",
    transitions=TRANSITIONS,
    roles_of=roles_of,
    recipients=member_recipients,
    on_enter={
        S.SUBMITTED: _stamp("submitted_at", keep_first=True),
        S.APPROVED: _stamp("approved_at"),
        S.PUBLISHED: _stamp("published_at"),
        S.CLOSED: _stamp("closed_at"),
        S.REPORTED: _stamp("reported_at"),
    },
)
