"""Everything the organisation's status page (and the staff page) shows, computed in one place: the legal status
and its history, the establishment timeline, deadlines, 事業報告書 rows, records in force, eligibility and the PST
from platform data with its bar chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice

from kyodo_fund.certification import rules
from kyodo_fund.certification.deadlines import (
    Deadline,
    FilingRow,
    OrgFacts,
    deadlines_of,
    filing_rows,
    load_facts,
    next_deadline,
)
from kyodo_fund.certification.filings import fiscal_year_end_month, revenues_of
from kyodo_fund.certification.models import FiscalRevenue, LegalState, LegalStatusEvent, RecordKind
from kyodo_fund.certification.pst_result import PstResult
from kyodo_fund.certification.rules import AnnualReportState, CertificationSettings, Eligibility
from kyodo_fund.certification.services import Holding, holding_on, reapplication_barred_until
from kyodo_fund.orgs.models import Organisation

ELIGIBILITY_REASONS = {
    "too_young": _l("設立から1年を超えていません"),
    "too_old_for_tokurei": _l("設立から5年以上たっています（特例認定は5年未満）"),
    "previously_certified": _l("認定・特例認定を受けたことがあります（特例認定は一度だけ）"),
    "revocation_bar": _l("取消から5年を経過していません"),
    "late_annual_report": _l("実績判定期間に期限後に提出した（又は未提出の）事業報告書等があります"),
}


@dataclass(frozen=True)
class Bar:
    label: str
    short_label: str
    value: int
    months: int
    x: float
    y: float
    width: float
    height: float
    reaches_target: bool


@dataclass(frozen=True)
class Chart:
    """Geometry of the server-side SVG: bars per fiscal year against the line of 100 (no script, no inline style)."""

    width: int
    height: int
    baseline: float
    target: int
    target_y: float
    bars: tuple[Bar, ...]


def pst_chart(result: PstResult, *, width: int = 640, height: int = 260) -> Chart:
    top, bottom, left, right = 20.0, 40.0, 48.0, 16.0
    target = result.settings.annual_target
    counts = result.absolute.fiscal_years
    scale_max = max([target, *(c.qualifying_donors for c in counts)]) * 1.15
    plot_h = height - top - bottom
    slot = (width - left - right) / max(len(counts), 1)
    bars = []
    for i, c in enumerate(counts):
        bar_h = plot_h * c.qualifying_donors / scale_max
        # A short first year is measured against its share of the 100 a year (×12 ÷ months, A4).
        share = target * c.fiscal_year.months / 12
        bars.append(
            Bar(
                label=f"{c.fiscal_year.start.isoformat()}〜{c.fiscal_year.end.isoformat()}",
                short_label=f"〜{c.fiscal_year.end:%Y-%m}",
                value=c.qualifying_donors,
                months=c.fiscal_year.months,
                x=round(left + slot * i + slot * 0.2, 1),
                y=round(top + plot_h - bar_h, 1),
                width=round(slot * 0.6, 1),
                height=round(bar_h, 1),
                reaches_target=c.qualifying_donors >= share,
            )
        )
    return Chart(
        width=width,
        height=height,
        baseline=top + plot_h,
        target=target,
        target_y=round(top + plot_h - plot_h * target / scale_max, 1),
        bars=tuple(bars),
    )


@dataclass
class Overview:
    facts: OrgFacts
    today: date
    events: list[LegalStatusEvent]
    timeline: rules.EstablishmentTimeline | None
    deadlines: list[Deadline]
    next: Deadline | None
    overdue: list[Deadline]
    filings: list[FilingRow]
    revenues: list[FiscalRevenue]
    holdings: list[Holding]
    barred_until: date | None
    late_in_period: list[date]
    eligibility: dict[str, Eligibility | None] = field(default_factory=dict)
    revocation_risk: list[FilingRow] = field(default_factory=list)

    @property
    def org(self) -> Organisation:
        return self.facts.org

    @property
    def legal(self) -> Any:
        return self.facts.legal

    @property
    def records(self) -> list:
        return self.facts.records

    @property
    def is_npo(self) -> bool:
        return self.legal is not None and self.legal.status is LegalState.REGISTERED


def build_overview(session: Session, org: Organisation, today: date, settings: CertificationSettings) -> Overview:
    facts = load_facts(session, [org])[0]
    legal = facts.legal
    deadlines = deadlines_of(facts, today, settings)
    timeline = None
    if (
        legal is not None
        and legal.status in (LegalState.APPLIED, LegalState.AUTHORISED)
        and legal.application_received_on
    ):
        timeline = rules.establishment_timeline(legal.application_received_on, legal.notice_received_on, settings)
    rows = filing_rows(facts, today)
    overview = Overview(
        facts=facts,
        today=today,
        events=list(legal.events) if legal is not None and legal.id is not None else [],
        timeline=timeline,
        deadlines=deadlines,
        next=next_deadline(deadlines, today),
        overdue=[d for d in deadlines if d.is_overdue(today)],
        filings=rows,
        revenues=revenues_of(session, org.id),
        holdings=holding_on(facts.records, today, settings),
        barred_until=reapplication_barred_until(facts.records),
        late_in_period=[],
        revocation_risk=[r for r in rows if r.state is AnnualReportState.REVOCATION_RISK],
    )
    if overview.is_npo and legal.established_on is not None:
        try:
            period = rules.judging_period(fiscal_year_end_month(org), today, established_on=legal.established_on)
        except ValueError:
            period = None
        if period is not None:
            overview.late_in_period = rules.late_annual_reports(facts.filings, period, today)
        revoked = [r.revoked_on for r in facts.records if r.kind.is_certification and r.revoked_on]
        for kind in (RecordKind.NINTEI, RecordKind.TOKUREI_NINTEI):
            overview.eligibility[kind.value] = rules.application_eligibility(
                kind.value,
                established_on=legal.established_on,
                applied_on=today,
                previously_certified=any(r.kind.is_certification for r in facts.records),
                revoked_on=max(revoked, default=None),
                late_report_fiscal_year_ends=overview.late_in_period,
            )
    return overview


def fiscal_year_end_choices(org: Organisation, today: date, years: int = 6) -> list[SelectChoice]:
    """The last ``years`` closed fiscal years (newest first), for the filing and revenue forms."""
    last = rules.last_closed_fiscal_year_end(fiscal_year_end_month(org), today)
    ends = [rules.end_of_month(rules.add_months(last, -12 * i)) for i in range(years)]
    return [SelectChoice(end.isoformat(), _l("%(date)s 終了の事業年度", date=end.isoformat())) for end in ends]
