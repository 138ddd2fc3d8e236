"""Runs one job: take the lease, record the run, call the function, record the outcome."""

from __future__ import annotations

import importlib
import os
import socket
import traceback
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.db import utcnow
from kyodo_fund.jobs.models import JobLock, JobRun, RunStatus
from kyodo_fund.jobs.schedule import ScheduledJob, find

#: Set by ``flask jobs run`` so APScheduler's threads can push an app context.
APP: Flask | None = None


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire_lease(session: Session, job: ScheduledJob, holder: str) -> bool:
    now = utcnow()
    try:
        with session.begin_nested():
            session.execute(insert(JobLock).values(job_id=job.id, holder=None, locked_until=None))
    except IntegrityError:
        pass  # the row exists already
    result = session.execute(
        update(JobLock)
        .where(JobLock.job_id == job.id)
        .where((JobLock.locked_until.is_(None)) | (JobLock.locked_until < now))
        .values(holder=holder, locked_until=now + timedelta(seconds=job.lease_seconds))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def release_lease(session: Session, job: ScheduledJob, holder: str) -> None:
    session.execute(
        update(JobLock)
        .where(JobLock.job_id == job.id, JobLock.holder == holder)
        .values(locked_until=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def run_job_in(session: Session, config: dict, job_id: str, *, holder: str | None = None) -> JobRun:
    """Run ``job_id`` once with ``session``; returns the recorded run (skipped if locked)."""
    job = find(job_id)
    holder = holder or holder_id()
    if not acquire_lease(session, job, holder):
        run = JobRun(job_id=job.id, status=RunStatus.SKIPPED_LOCKED, finished_at=utcnow(), holder=holder)
        session.add(run)
        session.commit()
        return run
    run = JobRun(job_id=job.id, holder=holder)
    session.add(run)
    session.commit()
    try:
        counts = resolve(job.func)(session, config) or {}
    except Exception:
        session.rollback()
        run = session.get(JobRun, run.id)
        run.status = RunStatus.FAILED
        run.error = traceback.format_exc()[-4000:]
    else:
        session.commit()
        run = session.get(JobRun, run.id)
        run.status = RunStatus.SUCCEEDED
        run.counts = counts
    run.finished_at = utcnow()
    session.commit()
    release_lease(session, job, holder)
    return run


def run_job(job_id: str) -> None:
    """APScheduler's entry point (a textual reference): one app context and session per run."""
    from kyodo_fund.extensions import db

    assert APP is not None, "flask jobs run sets runner.APP"
    with APP.app_context():
        session = db.session_factory()
        try:
            run_job_in(session, APP.config, job_id)
        finally:
            session.close()


def last_runs(session: Session, limit: int = 100) -> list[JobRun]:
    return list(session.scalars(select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)))
