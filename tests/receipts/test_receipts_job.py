"""The receipts jobs: schedule rows, exactly-once issuing across a crash, the annual job's window."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from kyodo_fund.jobs.models import RunStatus
from kyodo_fund.jobs.runner import run_job_in
from kyodo_fund.jobs.schedule import find
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.receipts import services
from kyodo_fund.receipts.models import Receipt
from kyodo_fund.receipts.tasks import statements_due_year


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 4, 1, 1, 0, tzinfo=UTC), tick=True):
        yield


def test_schedule_rows():
    issue, annual = find("receipts.issue"), find("receipts.annual")
    assert (issue.trigger, issue.trigger_args) == ("interval", {"seconds": 60})
    assert issue.func == "kyodo_fund.receipts.tasks:issue_due_receipts"
    assert annual.trigger == "cron" and annual.func == "kyodo_fund.receipts.tasks:run_annual_statements"


def test_job_killed_half_way_then_rerun_issues_each_receipt_exactly_once(
    app, app_ctx, db_session, clock, configure_issuer, gift, monkeypatch
):
    configure_issuer("koeki")
    gifts = [gift(amount_yen=1000 + n) for n in range(12)]
    db_session.commit()
    real_render = services.render_receipt
    rendered = Counter()

    def crash_on_the_eighth(snapshot):
        rendered["n"] += 1
        if rendered["n"] == 8:
            raise RuntimeError("killed half-way")
        return real_render(snapshot)

    monkeypatch.setattr(services, "render_receipt", crash_on_the_eighth)
    first = run_job_in(db_session, app.config, "receipts.issue")
    assert first.status == RunStatus.FAILED and "killed half-way" in first.error
    assert db_session.scalar(select(func.count()).select_from(Receipt)) == 7

    monkeypatch.setattr(services, "render_receipt", real_render)
    second = run_job_in(db_session, app.config, "receipts.issue")
    assert second.status == RunStatus.SUCCEEDED and second.counts == {"issued": 5}
    third = run_job_in(db_session, app.config, "receipts.issue")
    assert third.counts == {}

    rows = db_session.execute(select(Receipt.donation_id, Receipt.number)).all()
    assert sorted(d for d, _ in rows) == sorted(g.id for g in gifts)  # each gift once
    assert sorted(n for _, n in rows) == list(range(1, 13))  # the crashed one's number went back
    mails = db_session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.template == "receipt_issued"))
    assert sorted(mails) == sorted(f"receipt:{r.id}" for r in db_session.scalars(select(Receipt)))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2027, 1, 14), None),
        (date(2027, 1, 15), 2026),
        (date(2027, 2, 28), 2026),  # catching up stragglers
        (date(2027, 3, 2), None),
        (date(2027, 12, 31), None),
    ],
)
def test_annual_job_runs_from_statements_run_on(today, expected):
    config = {"STATEMENTS_RUN_ON": "01-15", "STATEMENTS_CATCH_UP_DAYS": 45}
    assert statements_due_year(config, today) == expected


def test_annual_job_does_nothing_outside_its_window(app, app_ctx, db_session, clock):
    run = run_job_in(db_session, app.config, "receipts.annual")
    assert run.status == RunStatus.SUCCEEDED and run.counts == {"not_due": 1}
