"""Read-side queries for project pages. Each list loads what its template shows in a fixed number
of statements (the organisation joined, everything else refused), whatever the number of projects."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Float, Select, cast, or_, select
from sqlalchemy.orm import Session, joinedload, raiseload, selectinload

from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.projects.models import ActivityReport, Project, ProjectStatus
from kyodo_fund.projects.workflow import WORKFLOW

PUBLIC_STATUS_FILTERS = {
    "published": (ProjectStatus.PUBLISHED,),
    "closed": (ProjectStatus.CLOSED, ProjectStatus.REPORTED),
    "all": (ProjectStatus.PUBLISHED, ProjectStatus.CLOSED, ProjectStatus.REPORTED),
}
SORTS = ("new", "ending", "funded")
#: The review queue's default: everything waiting for a reviewer's move.
AWAITING_REVIEW = (ProjectStatus.SUBMITTED, ProjectStatus.RESUBMITTED)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_filter(stmt: Select, text: str) -> Select:
    """Every word (up to 5) must appear in the title or the summary."""
    for word in text.split()[:5]:
        pattern = _like(word)
        stmt = stmt.where(or_(Project.title.ilike(pattern, escape="\\"), Project.summary.ilike(pattern, escape="\\")))
    return stmt


def _with_organisation(stmt: Select) -> Select:
    # The organisation's own eager collections (categories, strengths) are not shown on cards.
    return stmt.options(joinedload(Project.organisation).raiseload("*"), raiseload("*"))


def public_list_query(
    *,
    text: str = "",
    category: int | None = None,
    municipality_code: str | None = None,
    status: str = "published",
    sort: str = "new",
) -> Select:
    stmt = select(Project).where(
        Project.status.in_(PUBLIC_STATUS_FILTERS.get(status, PUBLIC_STATUS_FILTERS["published"]))
    )
    if text:
        stmt = _text_filter(stmt, text)
    if category:
        stmt = stmt.where(Project.activity_category == category)
    if municipality_code:
        stmt = stmt.where(Project.municipality_code == municipality_code)
    if sort == "ending":
        order = (Project.ends_on.asc(), Project.id.asc())
    elif sort == "funded":
        # goal_yen > 0 is a CHECK; the cast keeps SQLite and PostgreSQL from dividing integers.
        order = ((cast(Project.raised_yen, Float) / Project.goal_yen).desc(), Project.id.desc())
    else:
        order = (Project.published_at.desc(), Project.id.desc())
    return _with_organisation(stmt).order_by(*order)


def review_queue_query(*, statuses: tuple[ProjectStatus, ...] = AWAITING_REVIEW, text: str = "") -> Select:
    """Oldest submission first (never-submitted drafts last)."""
    stmt = select(Project).where(Project.status.in_(statuses))
    if text:
        stmt = _text_filter(stmt, text)
    return _with_organisation(stmt).order_by(Project.submitted_at.is_(None), Project.submitted_at, Project.id)


def org_projects(session: Session, organisation_id: int) -> list[Project]:
    stmt = select(Project).where(Project.organisation_id == organisation_id)
    return list(session.scalars(stmt.options(raiseload("*")).order_by(Project.created_at.desc(), Project.id.desc())))


def load_full(session: Session, slug: str) -> Project | None:
    """A project with everything its page shows: one statement per collection, not per row."""
    stmt = (
        select(Project)
        .where(Project.slug == slug)
        .options(
            joinedload(Project.organisation).raiseload("*"),
            selectinload(Project.targets),
            selectinload(Project.partners),
            selectinload(Project.budget_lines),
            selectinload(Project.phase_changes),
            selectinload(Project.reports).selectinload(ActivityReport.values),
            raiseload("*"),
        )
    )
    return session.scalar(stmt)


class HistoryStep(NamedTuple):
    at: datetime
    status: ProjectStatus
    #: The reviewer's reason or comment, shown to the organisation.
    note: str | None


def status_history(session: Session, project: Project) -> list[HistoryStep]:
    """The project's workflow steps, oldest first, read back from the audit log."""
    actions = [f"{WORKFLOW.name}.{action}" for action in sorted(WORKFLOW.actions())]
    stmt = (
        select(AuditEntry)
        .where(
            AuditEntry.object_type == type(project).__name__,
            AuditEntry.object_id == str(project.id),
            AuditEntry.action.in_(actions),
        )
        .order_by(AuditEntry.occurred_at, AuditEntry.id)
    )
    return [
        HistoryStep(entry.occurred_at, ProjectStatus(entry.after["status"]), entry.note)
        for entry in session.scalars(stmt)
        if entry.after and entry.after.get("status") in ProjectStatus._value2member_map_
    ]
