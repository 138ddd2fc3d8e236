"""The daily jobs: approved projects are published on their start date, published ones closed after
their end date, by the system actor; a second run changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.jobs import runner
from kyodo_fund.jobs.models import RunStatus
from kyodo_fund.jobs.schedule import find
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.projects.models import ProjectStatus
from kyodo_fund.projects.tasks import close_ended_projects, publish_due_projects
from tests.factories import make_project


def _count(db_session, model, *where) -> int:
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


def test_both_jobs_are_in_the_schedule_daily_after_midnight():
    for job_id, func_name in (
        ("projects.publish_due", "publish_due_projects"),
        ("projects.close_ended", "close_ended_projects"),
    ):
        job = find(job_id)
        assert job.func == f"kyodo_fund.projects.tasks:{func_name}"
        assert (job.trigger, job.trigger_args) == ("cron", {"hour": 0, "minute": 5})


@pytest.fixture
def april(time_machine):
    # 2026-04-10 00:05 in Tokyo is still 2026-04-09 in UTC: dates must be Japanese days.
    time_machine.move_to("2026-04-10 00:05 +09:00", tick=False)
    return time_machine


def test_approved_projects_are_published_on_their_start_date(app, app_ctx, db_session, cast, april):
    due = make_project(
        db_session, cast.org_a, status="approved", starts_on=date(2026, 4, 10), ends_on=date(2026, 6, 30)
    )
    late = make_project(
        db_session, cast.org_a, status="approved", starts_on=date(2026, 4, 1), ends_on=date(2026, 6, 30)
    )
    future = make_project(
        db_session, cast.org_a, status="approved", starts_on=date(2026, 4, 11), ends_on=date(2026, 6, 30)
    )
    ended = make_project(
        db_session, cast.org_a, status="approved", starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 9)
    )
    draft = make_project(db_session, cast.org_a, status="draft", starts_on=date(2026, 4, 1), ends_on=date(2026, 6, 30))

    assert publish_due_projects(db_session, app.config) == {"published": 2}
    assert (due.status, late.status) == (ProjectStatus.PUBLISHED, ProjectStatus.PUBLISHED)
    assert due.published_at is not None
    assert (future.status, ended.status, draft.status) == (
        ProjectStatus.APPROVED,
        ProjectStatus.APPROVED,
        ProjectStatus.DRAFT,
    )
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "projects.publish")).all()
    assert {(e.actor_id, e.actor_label) for e in entries} == {(None, "system")}
    assert _count(db_session, OutboxMessage, OutboxMessage.template == "project_publish") == 4  # 2 projects × 2 members

    # The second run finds nothing to do and sends nothing more.
    assert publish_due_projects(db_session, app.config) == {"published": 0}
    assert _count(db_session, OutboxMessage, OutboxMessage.template == "project_publish") == 4

    april.move_to("2026-04-11 00:05 +09:00", tick=False)
    assert publish_due_projects(db_session, app.config) == {"published": 1}
    assert future.status == ProjectStatus.PUBLISHED


def test_published_projects_close_the_day_after_their_end_date(app, db_session, cast, april):
    ends_today = make_project(db_session, cast.org_a, starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 10))
    ended = make_project(db_session, cast.org_a, starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 9))
    approved = make_project(
        db_session, cast.org_a, status="approved", starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 1)
    )

    assert close_ended_projects(db_session, app.config) == {"closed": 1}
    assert ended.status == ProjectStatus.CLOSED and ended.closed_at is not None
    assert ends_today.status == ProjectStatus.PUBLISHED  # the end date itself still takes gifts
    assert approved.status == ProjectStatus.APPROVED
    assert close_ended_projects(db_session, app.config) == {"closed": 0}

    april.move_to("2026-04-11 00:05 +09:00", tick=False)
    assert close_ended_projects(db_session, app.config) == {"closed": 1}
    assert ends_today.status == ProjectStatus.CLOSED
    assert _count(db_session, AuditEntry, AuditEntry.action == "projects.close") == 2


def test_the_runner_records_the_jobs_and_a_rerun_changes_nothing(app, app_ctx, db_session, cast, april):
    project = make_project(
        db_session, cast.org_a, status="approved", starts_on=date(2026, 4, 10), ends_on=date(2026, 4, 30)
    )
    first = runner.run_job_in(db_session, app.config, "projects.publish_due")
    second = runner.run_job_in(db_session, app.config, "projects.publish_due")
    assert (first.status, first.counts) == (RunStatus.SUCCEEDED, {"published": 1})
    assert (second.status, second.counts) == (RunStatus.SUCCEEDED, {"published": 0})

    april.move_to("2026-05-01 00:05 +09:00", tick=False)
    closing = runner.run_job_in(db_session, app.config, "projects.close_ended")
    assert (closing.status, closing.counts) == (RunStatus.SUCCEEDED, {"closed": 1})
    db_session.refresh(project)
    assert project.status == ProjectStatus.CLOSED
