"""The daily jobs: lapse of 認定 terms that are over, and reminders mailed once — even when the job runs twice,
or twice at the same time — to the members of the organisation concerned, through the real SMTP server."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.certification.models import (
    AnnualFiling,
    CertificationRecord,
    LegalState,
    LegalStatus,
    RecordKind,
    RecordStatus,
    ReminderSent,
)
from kyodo_fund.certification.tasks import expire_lapsed_certifications, send_certification_reminders
from kyodo_fund.extensions import db
from kyodo_fund.jobs import runner
from kyodo_fund.jobs.models import RunStatus
from kyodo_fund.jobs.schedule import find
from kyodo_fund.notifications.models import OutboxMessage
from tests.factories import make_org, make_user

D = date


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_both_jobs_are_in_the_schedule():
    reminders = find("certification.reminders")
    assert reminders.func == "kyodo_fund.certification.tasks:send_certification_reminders"
    assert (reminders.trigger, reminders.trigger_args) == ("cron", {"hour": 7, "minute": 0})
    assert find("certification.expire_lapsed").func == "kyodo_fund.certification.tasks:expire_lapsed_certifications"


def _npo(db_session, org, *, filed_through: int = 2026):
    db_session.add(LegalStatus(organisation_id=org.id, status=LegalState.REGISTERED, established_on=D(2015, 4, 1)))
    for year in range(2016, filed_through + 1):
        db_session.add(AnnualFiling(organisation_id=org.id, fiscal_year_end=D(year, 3, 31), filed_on=D(year, 6, 1)))


def _nintei(db_session, org, valid_until=D(2027, 1, 31)):
    record = CertificationRecord(
        organisation_id=org.id, kind=RecordKind.NINTEI, granted_on=D(2022, 2, 1), valid_until=valid_until
    )
    db_session.add(record)
    db_session.flush()
    return record


def test_renewal_window_reminder_goes_once_to_the_members(
    app, app_ctx, db_session, cast, time_machine, send_mail, mailbox
):
    _npo(db_session, cast.org_a)
    _npo(db_session, cast.org_b)
    record = _nintei(db_session, cast.org_a)  # Saitama: window 2026-08-01…2026-10-31
    _nintei(db_session, cast.org_b, valid_until=D(2027, 6, 30))
    time_machine.move_to("2026-08-01 07:00 +09:00", tick=False)
    first = runner.run_job_in(db_session, app.config, "certification.reminders")
    second = runner.run_job_in(db_session, app.config, "certification.reminders")
    assert (first.status, first.counts) == (RunStatus.SUCCEEDED, {"reminders": 1, "mails": 2, "already_sent": 0})
    assert second.counts == {"reminders": 0, "mails": 0, "already_sent": 1}
    sent = db_session.scalar(select(ReminderSent))
    assert (sent.organisation_id, sent.key, sent.recipients) == (
        cast.org_a.id,
        f"renewal_window_open:{record.id}:2026-08-01",
        2,
    )
    assert send_mail()["sent"] == 2
    assert sorted(m["To"] for m in mailbox) == sorted([cast.owner_a.email, cast.staff_a.email])
    japanese = next(m for m in mailbox if m["To"] == cast.owner_a.email)
    assert "認定の更新申請期間が始まりました" in japanese["Subject"]
    body = japanese.get_body(("plain",)).get_content()
    assert "2026-08-01 から 2026-10-31 まで" in body and "/orgs/npo-a/status" in body


@pytest.mark.parametrize(
    ("now", "key"),
    [
        ("2026-10-01", "renewal_window_closing:{id}:2026-10-01"),
        ("2026-10-15", "renewal_window_closing:{id}:2026-10-01"),  # a missed run catches up …
        ("2026-10-16", None),  # … for 14 days only
        ("2026-12-02", "expiry:{id}:2026-12-02"),  # 60 days before 2027-01-31
    ],
)
def test_renewal_closing_and_expiry_reminders(app, app_ctx, db_session, cast, time_machine, now, key):
    _npo(db_session, cast.org_a)
    record = _nintei(db_session, cast.org_a)
    time_machine.move_to(f"{now} 07:00 +09:00", tick=False)
    send_certification_reminders(db_session, app.config)
    keys = list(db_session.scalars(select(ReminderSent.key)))
    assert keys == ([key.format(id=record.id)] if key else [])


def test_a_filed_renewal_stops_the_reminders(app, app_ctx, db_session, cast, time_machine):
    _npo(db_session, cast.org_a)
    record = _nintei(db_session, cast.org_a)
    record.renewal_filed_on, record.status = D(2026, 8, 10), RecordStatus.RENEWAL_PENDING
    time_machine.move_to("2026-10-01 07:00 +09:00", tick=False)
    assert send_certification_reminders(db_session, app.config)["reminders"] == 0


@pytest.mark.parametrize(("now", "key"), [("2026-07-30", "annual_overdue_1"), ("2026-08-30", "annual_overdue_2")])
def test_overdue_annual_report_reminders(app, app_ctx, db_session, cast, time_machine, now, key):
    _npo(db_session, cast.org_a, filed_through=2025)  # FY ending 2026-03-31 unfiled, due 2026-06-30
    time_machine.move_to(f"{now} 07:00 +09:00", tick=False)
    counts = send_certification_reminders(db_session, app.config)
    # B is an NPO法人 too and has recorded no report at all: it is reminded of its latest one as well.
    assert counts == {"reminders": 2, "mails": 3, "already_sent": 0}
    sent = {tuple(row) for row in db_session.execute(select(ReminderSent.organisation_id, ReminderSent.key))}
    assert sent == {(org.id, f"{key}:2026-03-31:{now}") for org in (cast.org_a, cast.org_b)}
    to_a = db_session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == cast.owner_a.email)).all()
    assert len(to_a) == 1 and "事業報告書等の提出期限を過ぎています" in to_a[0].subject
    assert "2026-03-31 に終わった事業年度" in to_a[0].body_text


def test_designation_recheck_window_reminder(app, app_ctx, db_session, cast, time_machine):
    _npo(db_session, cast.org_a)
    record = CertificationRecord(
        organisation_id=cast.org_a.id, kind=RecordKind.PREF_DESIGNATION, granted_on=D(2022, 4, 1)
    )
    db_session.add(record)
    db_session.flush()
    time_machine.move_to("2026-07-01 07:00 +09:00", tick=False)
    send_certification_reminders(db_session, app.config)
    assert list(db_session.scalars(select(ReminderSent.key))) == [f"designation_recheck_open:{record.id}:2026-07-01"]


def test_no_members_no_mail_but_the_reminder_is_recorded(app, app_ctx, db_session, time_machine):
    orphan = make_org(db_session)
    _npo(db_session, orphan)
    _nintei(db_session, orphan)
    time_machine.move_to("2026-08-01 07:00 +09:00", tick=False)
    assert send_certification_reminders(db_session, app.config) == {"reminders": 1, "mails": 0, "already_sent": 0}


def test_lapse_job_moves_only_terms_that_are_over(app, app_ctx, db_session, cast, time_machine):
    _npo(db_session, cast.org_a)
    over = _nintei(db_session, cast.org_a, valid_until=D(2026, 6, 30))
    pending = _nintei(db_session, cast.org_b, valid_until=D(2026, 6, 30))
    pending.status, pending.renewal_filed_on = RecordStatus.RENEWAL_PENDING, D(2026, 2, 1)
    time_machine.move_to("2026-06-30 23:59 +09:00", tick=False)
    assert expire_lapsed_certifications(db_session, app.config) == {"lapsed": 0}
    time_machine.move_to("2026-07-01 00:10 +09:00", tick=False)
    assert expire_lapsed_certifications(db_session, app.config) == {"lapsed": 1}
    assert (over.status, pending.status) == (RecordStatus.LAPSED, RecordStatus.RENEWAL_PENDING)
    audit = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "certification.record.lapse"))
    assert audit.actor_label == "system" and audit.object_id == str(over.id)
    assert expire_lapsed_certifications(db_session, app.config) == {"lapsed": 0}


@pytest.fixture
def postgres_only(is_postgres):
    if not is_postgres:
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE; the concurrent run needs PostgreSQL")


def test_two_concurrent_runs_send_each_reminder_once(app, committed_db, postgres_only, time_machine):
    for _ in range(5):
        owner = make_user(committed_db)
        org = make_org(committed_db, owner=owner)
        _npo(committed_db, org)
        _nintei(committed_db, org)
    committed_db.commit()
    time_machine.move_to("2026-08-01 07:00 +09:00", tick=False)
    start = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        with app.test_request_context():
            session = db.session_factory()
            try:
                start.wait(timeout=10)
                results.append(send_certification_reminders(session, app.config))
                session.commit()
            except BaseException as exc:  # reported below, after the join
                errors.append(exc)
                session.rollback()
            finally:
                session.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(r["reminders"] for r in results) == 5 and sum(r["already_sent"] for r in results) == 5
    assert _count(committed_db, ReminderSent) == 5
    assert _count(committed_db, OutboxMessage) == 5
