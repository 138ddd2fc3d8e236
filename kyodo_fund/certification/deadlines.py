"""What is due when, per organisation: the deadlines the status page and the administrators' list show, and the
reminders the daily job sends. Both are computed from the same ``OrgFacts`` (loaded for many organisations in a
handful of queries) by the pure rules; nothing here writes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from kyodo_fund.certification import rules
from kyodo_fund.certification.filings import fiscal_year_end_month
from kyodo_fund.certification.models import (
    AnnualFiling,
    CertificationRecord,
    LegalState,
    LegalStatus,
    RecordKind,
    RecordStatus,
)
from kyodo_fund.certification.rules import AnnualReportState, CertificationSettings
from kyodo_fund.certification.services import TRACKED_FORMS, default_legal_status
from kyodo_fund.orgs.models import Organisation

DEADLINE_LABELS = {
    "correction": _l("申請書類の補正期限"),
    "decision": _l("認証・不認証の決定予定日（所轄庁）"),
    "registration": _l("設立登記の期限（認証の通知から2週間）"),
    "registration_revocation": _l("未登記のまま6か月：認証取消のおそれ"),
    "annual_report": _l("事業報告書等の提出期限"),
    "annual_report_revocation": _l("事業報告書等が3年未提出：認証取消対象"),
    "renewal_window": _l("認定の更新申請期間"),
    "expiry": _l("有効期間の満了"),
    "designation_recheck": _l("県指定の再確認の申請期間"),
}


@dataclass(frozen=True)
class Deadline:
    organisation_id: int
    kind: str
    due_on: date
    #: First day of a window (renewal, 県指定 re-check); None for a plain due date.
    opens_on: date | None = None
    record_id: int | None = None
    record_kind: RecordKind | None = None
    fiscal_year_end: date | None = None

    @property
    def label(self) -> str:
        label = DEADLINE_LABELS[self.kind]
        if self.record_kind is not None and self.kind == "expiry":
            return _("%(kind)sの%(label)s", kind=self.record_kind.label, label=label)
        if self.fiscal_year_end is not None:
            return _("%(label)s（%(end)s 終了の事業年度）", label=label, end=self.fiscal_year_end.isoformat())
        return str(label)

    def is_overdue(self, today: date) -> bool:
        return today > self.due_on

    def is_open(self, today: date) -> bool:
        return self.opens_on is None or self.opens_on <= today


@dataclass
class OrgFacts:
    org: Organisation
    legal: LegalStatus | None
    records: list[CertificationRecord] = field(default_factory=list)
    filings: dict[date, date] = field(default_factory=dict)

    @property
    def fy_month(self) -> int:
        return fiscal_year_end_month(self.org)


def load_facts(session: Session, orgs: Iterable[Organisation] | None = None) -> list[OrgFacts]:
    """Facts for ``orgs``, or for every organisation with a legal status, a record or a trackable legal form."""
    if orgs is None:
        has_legal = select(LegalStatus.organisation_id)
        has_record = select(CertificationRecord.organisation_id)
        orgs = session.scalars(
            select(Organisation)
            .where(
                or_(
                    Organisation.legal_form.in_(list(TRACKED_FORMS)),
                    Organisation.id.in_(has_legal),
                    Organisation.id.in_(has_record),
                )
            )
            .order_by(Organisation.id)
        )
    orgs = list(orgs)
    ids = [o.id for o in orgs]
    legal = {
        s.organisation_id: s for s in session.scalars(select(LegalStatus).where(LegalStatus.organisation_id.in_(ids)))
    }
    records: dict[int, list[CertificationRecord]] = defaultdict(list)
    for r in session.scalars(
        select(CertificationRecord)
        .where(CertificationRecord.organisation_id.in_(ids))
        .order_by(CertificationRecord.granted_on.desc(), CertificationRecord.id.desc())
    ):
        records[r.organisation_id].append(r)
    filings: dict[int, dict[date, date]] = defaultdict(dict)
    for org_id, fy_end, filed_on in session.execute(
        select(AnnualFiling.organisation_id, AnnualFiling.fiscal_year_end, AnnualFiling.filed_on).where(
            AnnualFiling.organisation_id.in_(ids)
        )
    ):
        filings[org_id][fy_end] = filed_on
    return [OrgFacts(o, legal.get(o.id) or default_legal_status(o), records[o.id], filings[o.id]) for o in orgs]


def report_fiscal_year_ends(facts: OrgFacts, today: date) -> list[date]:
    """Fiscal years whose 事業報告書等 is owed: from the one the NPO法人 was registered in (or, with no 設立日 on
    record, the earliest one filed) up to the last closed one. Only a registered NPO法人 files."""
    if facts.legal is None or facts.legal.status is not LegalState.REGISTERED:
        return []
    month = facts.fy_month
    last = rules.last_closed_fiscal_year_end(month, today)
    if facts.legal.established_on is not None:
        first = rules.fiscal_year_end_for(facts.legal.established_on, month)
    else:
        first = min([last, *facts.filings])
    ends, end = [], first
    while end <= last:
        ends.append(end)
        end = rules.end_of_month(rules.add_months(end, 12))
    return ends


@dataclass(frozen=True)
class FilingRow:
    fiscal_year_end: date
    due_on: date
    filed_on: date | None
    state: AnnualReportState

    @property
    def late(self) -> bool:
        return self.state in (
            AnnualReportState.FILED_LATE,
            AnnualReportState.OVERDUE,
            AnnualReportState.REVOCATION_RISK,
        )


def filing_rows(facts: OrgFacts, today: date) -> list[FilingRow]:
    ends = sorted(set(report_fiscal_year_ends(facts, today)) | set(facts.filings), reverse=True)
    return [
        FilingRow(
            end,
            rules.annual_report_due(end),
            facts.filings.get(end),
            rules.annual_report_state(end, facts.filings.get(end), today),
        )
        for end in ends
    ]


def deadlines_of(facts: OrgFacts, today: date, settings: CertificationSettings) -> list[Deadline]:
    """Every open deadline of one organisation (overdue ones included), earliest first."""
    org_id = facts.org.id
    found: list[Deadline] = []
    legal = facts.legal
    if (
        legal is not None
        and legal.status in (LegalState.APPLIED, LegalState.AUTHORISED)
        and legal.application_received_on
    ):
        timeline = rules.establishment_timeline(legal.application_received_on, legal.notice_received_on, settings)
        if legal.status is LegalState.APPLIED:
            found.append(Deadline(org_id, "correction", timeline.correction_due_on))
            found.append(Deadline(org_id, "decision", timeline.decision_due_on))
        elif timeline.registration_due_on is not None:
            found.append(Deadline(org_id, "registration", timeline.registration_due_on))
            found.append(Deadline(org_id, "registration_revocation", timeline.revocation_alert_on))
    for row in filing_rows(facts, today):
        if row.filed_on is None:
            found.append(Deadline(org_id, "annual_report", row.due_on, fiscal_year_end=row.fiscal_year_end))
            if row.state is AnnualReportState.REVOCATION_RISK:
                alert_on = rules.annual_report_schedule(row.fiscal_year_end).revocation_alert_on
                found.append(
                    Deadline(org_id, "annual_report_revocation", alert_on, fiscal_year_end=row.fiscal_year_end)
                )
    for r in facts.records:
        if r.status is not RecordStatus.ACTIVE:
            continue
        if r.kind is RecordKind.NINTEI and r.renewal_filed_on is None:
            window = rules.renewal_window(r.valid_until, settings)
            found.append(Deadline(org_id, "renewal_window", window.closes_on, window.opens_on, r.id, r.kind))
        if r.kind.is_certification:
            found.append(Deadline(org_id, "expiry", r.valid_until, None, r.id, r.kind))
        if r.kind is RecordKind.PREF_DESIGNATION:
            recheck = rules.next_designation_recheck(r.granted_on, today)
            found.append(
                Deadline(org_id, "designation_recheck", recheck.window_closes_on, recheck.window_opens_on, r.id, r.kind)
            )
    return sorted(found, key=lambda d: (d.due_on, d.kind))


def next_deadline(deadlines: list[Deadline], today: date) -> Deadline | None:
    """The first deadline still ahead (overdue ones are shown apart, as alerts)."""
    return next((d for d in deadlines if not d.is_overdue(today)), None)


# --- reminders -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueReminder:
    organisation_id: int
    #: Mail template under templates/emails/.
    template: str
    key: str
    on: date
    deadline: Deadline


def reminders_of(
    facts: OrgFacts, today: date, settings: CertificationSettings, *, expiry_days: int, catch_up_days: int
) -> list[DueReminder]:
    """Reminders whose day has come, at most ``catch_up_days`` ago (a missed run catches up; a first run after
    go-live does not mail years of history)."""
    due: list[DueReminder] = []

    def add(template: str, key: str, on: date, deadline: Deadline) -> None:
        if on <= today and (today - on).days <= catch_up_days:
            due.append(DueReminder(facts.org.id, template, f"{key}:{on.isoformat()}", on, deadline))

    for d in deadlines_of(facts, today, settings):
        match d.kind:
            case "renewal_window":
                record = next(r for r in facts.records if r.id == d.record_id)
                opening, closing = rules.renewal_reminders(record.valid_until, settings)
                add("cert_renewal_window_open", f"renewal_window_open:{d.record_id}", opening.on, d)
                add("cert_renewal_window_closing", f"renewal_window_closing:{d.record_id}", closing.on, d)
            case "expiry":
                add("cert_expiry", f"expiry:{d.record_id}", d.due_on - timedelta(days=expiry_days), d)
            case "annual_report":
                first, second = rules.annual_report_schedule(d.fiscal_year_end).reminders_on
                add("cert_annual_overdue", f"annual_overdue_1:{d.fiscal_year_end.isoformat()}", first, d)
                add("cert_annual_overdue", f"annual_overdue_2:{d.fiscal_year_end.isoformat()}", second, d)
            case "designation_recheck":
                add("cert_designation_recheck", f"designation_recheck_open:{d.record_id}", d.opens_on, d)
    return due


@dataclass(frozen=True)
class DeadlineRow:
    org: Organisation
    deadline: Deadline


SORT_KEYS = {
    "due": lambda row: (row.deadline.due_on, row.org.name, row.deadline.kind),
    "org": lambda row: (row.org.name, row.deadline.due_on, row.deadline.kind),
    "kind": lambda row: (row.deadline.kind, row.deadline.due_on, row.org.name),
}


def upcoming_deadlines(
    session: Session,
    today: date,
    settings: CertificationSettings,
    *,
    within_days: int,
    kind: str | None = None,
    sort: str = "due",
    descending: bool = False,
) -> list[DeadlineRow]:
    """Every organisation's overdue deadlines and those due within ``within_days``, for the staff list."""
    horizon = today + timedelta(days=within_days)
    rows = [
        DeadlineRow(facts.org, d)
        for facts in load_facts(session)
        for d in deadlines_of(facts, today, settings)
        if d.due_on <= horizon and (kind is None or d.kind == kind)
    ]
    return sorted(rows, key=SORT_KEYS.get(sort, SORT_KEYS["due"]), reverse=descending)
