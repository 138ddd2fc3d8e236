"""Scheduled (``jobs/schedule.py``): let 認定/特例認定 terms that are over lapse, and mail the members of each
organisation when a deadline needs them (renewal window open and closing, expiry ahead, 事業報告書 overdue by one and
two months, 県指定 re-check window open).

A reminder is sent once: its ``ReminderSent`` row (unique per organisation and key) is inserted in the same
transaction as the queued mails, so a second run — or a concurrent one, which waits on the unique index and then
finds the row — queues nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.audit import SYSTEM
from kyodo_fund.certification.deadlines import DueReminder, OrgFacts, load_facts, reminders_of
from kyodo_fund.certification.models import CertificationRecord, RecordKind, RecordStatus, ReminderSent
from kyodo_fund.certification.rules import CertificationSettings
from kyodo_fund.certification.workflow import RECORD_WORKFLOW
from kyodo_fund.notifications.services import queue_email
from kyodo_fund.orgs.workflow import member_recipients
from kyodo_fund.projects.models import today_in_tokyo
from kyodo_fund.workflow import apply_transition


def expire_lapsed_certifications(session: Session, config: Mapping[str, Any]) -> dict:
    """Active 認定/特例認定 whose last day is behind us and whose renewal was not filed (57条 lapse)."""
    today = today_in_tokyo()
    kinds = [RecordKind.NINTEI, RecordKind.TOKUREI_NINTEI]
    ids = list(
        session.scalars(
            select(CertificationRecord.id)
            .where(
                CertificationRecord.status == RecordStatus.ACTIVE,
                CertificationRecord.kind.in_(kinds),
                CertificationRecord.valid_until < today,
            )
            .order_by(CertificationRecord.id)
        )
    )
    lapsed = 0
    for record_id in ids:
        record = session.scalar(
            select(CertificationRecord)
            .where(CertificationRecord.id == record_id, CertificationRecord.status == RecordStatus.ACTIVE)
            .with_for_update(skip_locked=True, of=CertificationRecord)
        )
        if record is None:  # moved meanwhile, or another runner holds it
            continue
        apply_transition(session, RECORD_WORKFLOW, record, "lapse", SYSTEM)
        lapsed += 1
    session.flush()
    return {"lapsed": lapsed}


def _claim(session: Session, due: DueReminder, recipients: int) -> bool:
    try:
        with session.begin_nested():
            session.add(
                ReminderSent(organisation_id=due.organisation_id, key=due.key, sent_on=due.on, recipients=recipients)
            )
    except IntegrityError:
        return False
    return True


def send_reminder(session: Session, facts: OrgFacts, due: DueReminder) -> int | None:
    """Queue ``due`` to every member of the organisation; None when it was sent before."""
    recipients = member_recipients(session, facts.org)
    if not _claim(session, due, len(recipients)):
        return None
    context = {"org": facts.org, "deadline": due.deadline, "reminder": due}
    for email, locale in recipients:
        queue_email(
            session,
            due.template,
            to=email,
            locale=locale,
            context=context,
            dedupe_key=f"cert:{due.organisation_id}:{due.key}:{email}"[:200],
        )
    return len(recipients)


def send_certification_reminders(session: Session, config: Mapping[str, Any]) -> dict:
    today = today_in_tokyo()
    settings = CertificationSettings.from_config(config)
    expiry_days = int(config.get("CERTIFICATION_EXPIRY_REMINDER_DAYS", 60))
    catch_up_days = int(config.get("CERTIFICATION_REMINDER_CATCH_UP_DAYS", 14))
    counts = {"reminders": 0, "mails": 0, "already_sent": 0}
    for facts in load_facts(session):
        for due in reminders_of(facts, today, settings, expiry_days=expiry_days, catch_up_days=catch_up_days):
            mails = send_reminder(session, facts, due)
            if mails is None:
                counts["already_sent"] += 1
            else:
                counts["reminders"] += 1
                counts["mails"] += mails
    session.flush()
    return counts
