import threading

import pytest
from sqlalchemy import select

from kyodo_fund.extensions import db
from kyodo_fund.jobs import runner
from kyodo_fund.jobs.models import JobRun, RunStatus
from kyodo_fund.jobs.schedule import SCHEDULE, ScheduledJob
from tests.jobs.sample_jobs import CALLS, GATE, STARTED


@pytest.fixture
def extra_jobs(monkeypatch):
    jobs = (
        ScheduledJob("test.ok", "tests.jobs.sample_jobs:_ok", "interval", {"seconds": 60}),
        ScheduledJob("test.boom", "tests.jobs.sample_jobs:_boom", "interval", {"seconds": 60}),
        ScheduledJob("test.slow", "tests.jobs.sample_jobs:_slow", "interval", {"seconds": 60}),
    )
    monkeypatch.setattr("kyodo_fund.jobs.schedule.SCHEDULE", SCHEDULE + jobs)
    CALLS.clear()
    GATE.clear()
    STARTED.clear()


def test_successful_run_is_recorded(app, db_session, extra_jobs):
    run = runner.run_job_in(db_session, app.config, "test.ok")
    assert run.status is RunStatus.SUCCEEDED and run.counts == {"done": 1} and run.finished_at
    assert CALLS == ["ok"]
    # The lease was released: a second run goes ahead.
    assert runner.run_job_in(db_session, app.config, "test.ok").status is RunStatus.SUCCEEDED


def test_failure_is_recorded_with_the_error_and_releases_the_lease(app, db_session, extra_jobs):
    run = runner.run_job_in(db_session, app.config, "test.boom")
    assert run.status is RunStatus.FAILED and "job exploded" in run.error
    assert runner.run_job_in(db_session, app.config, "test.boom").status is RunStatus.FAILED


def test_two_schedulers_never_overlap_one_job(app, committed_db, extra_jobs):
    """Two processes (here: threads with their own sessions) start the same job at once."""
    results = {}

    def first() -> None:
        with app.app_context():
            session = db.session_factory()
            results["first"] = runner.run_job_in(session, app.config, "test.slow", holder="A").status
            session.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert STARTED.wait(10)
    with app.app_context():
        session = db.session_factory()
        results["second"] = runner.run_job_in(session, app.config, "test.slow", holder="B").status
        session.close()
    GATE.set()
    thread.join(10)
    assert results == {"first": RunStatus.SUCCEEDED, "second": RunStatus.SKIPPED_LOCKED}
    assert CALLS == ["slow"]
    with app.app_context():
        statuses = sorted(r.status.value for r in db.session.scalars(select(JobRun)))
    assert statuses == ["skipped_locked", "succeeded"]


def test_scheduler_registers_each_job_once_with_safe_options(app):
    from kyodo_fund.jobs.cli import build_scheduler

    scheduler = build_scheduler(app)
    jobs = scheduler.get_jobs()
    assert sorted(j.id for j in jobs) == sorted(j.id for j in SCHEDULE)
    for job in jobs:
        assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time >= 3600


def test_cli_run_once_and_list(app, db_session):
    cli = app.test_cli_runner()
    listing = cli.invoke(args=["jobs", "list"])
    assert "mail.send" in listing.output
    result = cli.invoke(args=["jobs", "run-once", "mail.send"])
    assert result.exit_code == 0 and "succeeded" in result.output
    assert cli.invoke(args=["jobs", "run-once", "nope"]).exit_code != 0
