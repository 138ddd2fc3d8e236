"""Scheduled (``jobs/schedule.py``): publish approved projects on their start date and close
published ones after their end date, as the system actor. Both are idempotent: a project already
moved no longer matches, and each one is re-read under a row lock before it is moved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.audit import SYSTEM
from kyodo_fund.projects.models import Project, ProjectStatus, today_in_tokyo
from kyodo_fund.projects.workflow import WORKFLOW
from kyodo_fund.workflow import apply_transition


def _move_each(session: Session, ids: list[int], status: ProjectStatus, action: str) -> int:
    moved = 0
    for project_id in ids:
        project = session.scalar(
            select(Project).where(Project.id == project_id, Project.status == status).with_for_update(skip_locked=True)
        )
        if project is None:  # moved meanwhile, or another runner holds it
            continue
        apply_transition(session, WORKFLOW, project, action, SYSTEM)
        moved += 1
    session.flush()
    return moved


def publish_due_projects(session: Session, config: Mapping[str, Any]) -> dict:
    """Approved projects whose start date has come. One that has already ended stays approved
    (giving to a finished project makes no sense); staff see it in the review list."""
    today = today_in_tokyo()
    ids = list(
        session.scalars(
            select(Project.id)
            .where(Project.status == ProjectStatus.APPROVED, Project.starts_on <= today, Project.ends_on >= today)
            .order_by(Project.id)
        )
    )
    return {"published": _move_each(session, ids, ProjectStatus.APPROVED, "publish")}


def close_ended_projects(session: Session, config: Mapping[str, Any]) -> dict:
    """Published projects whose end date is behind us (the end date itself still takes gifts)."""
    today = today_in_tokyo()
    ids = list(
        session.scalars(
            select(Project.id)
            .where(Project.status == ProjectStatus.PUBLISHED, Project.ends_on < today)
            .order_by(Project.id)
        )
    )
    return {"closed": _move_each(session, ids, ProjectStatus.PUBLISHED, "close")}
