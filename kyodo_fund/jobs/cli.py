from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from kyodo_fund.jobs import runner
from kyodo_fund.jobs.schedule import SCHEDULE

jobs_cli = AppGroup("jobs", help="Scheduled jobs (run the scheduler in exactly one process).")


def build_scheduler(app):
    from apscheduler.schedulers.blocking import BlockingScheduler

    # Memory job store on purpose: the schedule table is the source of truth, and a shared store
    # would not coordinate several schedulers anyway (the database lease does that).
    scheduler = BlockingScheduler(timezone="Asia/Tokyo")
    for job in SCHEDULE:
        scheduler.add_job(
            "kyodo_fund.jobs.runner:run_job",
            trigger=job.trigger,
            args=[job.id],
            id=job.id,
            name=job.description or job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=app.config.get("JOBS_MISFIRE_GRACE_SECONDS", 6 * 3600),
            **job.trigger_args,
        )
    return scheduler


@jobs_cli.command("run")
def run() -> None:
    """Start the scheduler in this process (blocks)."""
    app = current_app._get_current_object()
    runner.APP = app
    scheduler = build_scheduler(app)
    click.echo(f"scheduler started with {len(SCHEDULE)} jobs (holder {runner.holder_id()})")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


@jobs_cli.command("list")
def list_jobs() -> None:
    """Show the schedule table."""
    for job in SCHEDULE:
        args = ", ".join(f"{k}={v}" for k, v in job.trigger_args.items())
        click.echo(f"{job.id:28} {job.trigger}({args})  {job.description}")


@jobs_cli.command("run-once")
@click.argument("job_id")
def run_once(job_id: str) -> None:
    """Run one job now, under the same lease as the scheduler."""
    from kyodo_fund.extensions import db

    try:
        run = runner.run_job_in(db.session, current_app.config, job_id)
    except KeyError:
        raise click.ClickException(f"unknown job {job_id!r}; see `flask jobs list`") from None
    click.echo(f"{job_id}: {run.status.value} {run.counts or ''}")
    if run.error:
        click.echo(run.error, err=True)
        raise SystemExit(1)
