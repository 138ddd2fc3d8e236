"""Deadline rules for NPO法人: establishment, 事業報告書, 認定/特例認定, 県指定, 実績判定期間.

Pure functions on ``datetime.date`` (certification.md §2–§5); nothing here reads the clock or the database.
Month arithmetic clamps to the month end (``dates``: 2026-08-31 − 6 months = 2026-02-28); the 実績判定期間 helpers
live in ``dates`` and are re-exported here.

``first_day_counts`` (config ``DEADLINES_FIRST_DAY_COUNTS``) only changes the establishment steps that start on
the day something happens (receipt of the application, arrival of the 認証 notice):

* ``False`` (default, 民法140条 初日不算入): the event day is not counted, due = event + N.
  2026-04-01 → 補正 2026-04-08, 縦覧 ends 2026-04-15.
* ``True``: the event day is day 1, every such period ends one day earlier: 補正 2026-04-07, 縦覧 ends 2026-04-14.

The decision period starts the day after 縦覧 has ended, a whole day, so it counts from its first day under
either convention and its due date is always 縦覧 end + 2 months (2026-06-15, or 2026-06-14 when 縦覧 ended a day
earlier). Rules the notes state as explicit formulas (validity, renewal window, 事業報告書, 5-year bar, 県指定)
never depend on the setting.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from kyodo_fund.certification.dates import (
    ONE_DAY,
    FiscalYear,
    JudgingPeriod,
    add_months,
    add_years,
    count_months,
    end_of_month,
    fiscal_year_end_for,
    judging_period,
    last_closed_fiscal_year_end,
)


class CertificationKind(enum.StrEnum):
    NINTEI = "nintei"  # 認定
    TOKUREI_NINTEI = "tokurei_nintei"  # 特例認定


class RenewalOpen(enum.StrEnum):
    #: Saitama: 2017-12-31 → opens 2017-07-01 (six months before the day after expiry).
    DAY_AFTER_EXPIRY_MINUS_6M = "day_after_expiry_minus_6m"
    #: Tokyo: 2017-09-15 → opens 2017-03-15.
    EXPIRY_MINUS_6M = "expiry_minus_6m"


@dataclass(frozen=True)
class CertificationSettings:
    first_day_counts: bool = False
    renewal_open: RenewalOpen = RenewalOpen.DAY_AFTER_EXPIRY_MINUS_6M
    renewal_reminder_days_before_close: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "renewal_open", RenewalOpen(self.renewal_open))

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> CertificationSettings:
        return cls(
            first_day_counts=bool(config.get("DEADLINES_FIRST_DAY_COUNTS", False)),
            renewal_open=RenewalOpen(
                str(config.get("CERTIFICATION_RENEWAL_OPEN", RenewalOpen.DAY_AFTER_EXPIRY_MINUS_6M))
            ),
            renewal_reminder_days_before_close=int(str(config.get("CERTIFICATION_RENEWAL_REMINDER_DAYS", 30))),
        )


DEFAULT_SETTINGS = CertificationSettings()


# --- §2 establishment -------------------------------------------------------------------------------------------

#: (applications received from, 縦覧 length as (months, days)), newest first. The 2017-04-01 switch from two
#: months to one comes from the 2016 amendment of the NPO Act (not in the domain notes; confirm if it matters).
INSPECTION_LENGTHS: tuple[tuple[date, tuple[int, int]], ...] = (
    (date(2021, 6, 9), (0, 14)),
    (date(2017, 4, 1), (1, 0)),
    (date.min, (2, 0)),
)


@dataclass(frozen=True)
class EstablishmentTimeline:
    received_on: date
    correction_due_on: date
    inspection_ends_on: date
    decision_due_on: date
    notice_received_on: date | None = None
    registration_due_on: date | None = None
    #: After this day the 認証 of an NPO that has not registered may be revoked.
    revocation_alert_on: date | None = None


def _from_event(event_on: date, settings: CertificationSettings, *, months: int = 0, days: int = 0) -> date:
    due = add_months(event_on, months) + timedelta(days=days)
    return due - ONE_DAY if settings.first_day_counts else due


def establishment_timeline(
    received_on: date, notice_received_on: date | None = None, settings: CertificationSettings = DEFAULT_SETTINGS
) -> EstablishmentTimeline:
    """2026-04-01 → 補正 2026-04-08, 縦覧 ends 2026-04-15, decision by 2026-06-15; notice 2026-06-10 → register by
    2026-06-24, revocation-risk alert 2026-12-10."""
    months, days = next(length for since, length in INSPECTION_LENGTHS if received_on >= since)
    inspection_ends_on = _from_event(received_on, settings, months=months, days=days)
    registration_due_on = revocation_alert_on = None
    if notice_received_on is not None:
        registration_due_on = _from_event(notice_received_on, settings, days=14)
        revocation_alert_on = _from_event(notice_received_on, settings, months=6)
    return EstablishmentTimeline(
        received_on=received_on,
        correction_due_on=_from_event(received_on, settings, days=7),
        inspection_ends_on=inspection_ends_on,
        decision_due_on=add_months(inspection_ends_on, 2),
        notice_received_on=notice_received_on,
        registration_due_on=registration_due_on,
        revocation_alert_on=revocation_alert_on,
    )


# --- §3 事業報告書等 ---------------------------------------------------------------------------------------------


class AnnualReportState(enum.StrEnum):
    FILED_ON_TIME = "filed_on_time"
    FILED_LATE = "filed_late"
    NOT_DUE = "not_due"
    OVERDUE = "overdue"
    #: Unfiled three years after the due date: 認証取消対象 (NPO法43条).
    REVOCATION_RISK = "revocation_risk"


@dataclass(frozen=True)
class AnnualReportSchedule:
    fiscal_year_end: date
    due_on: date
    reminders_on: tuple[date, date]
    revocation_alert_on: date


def annual_report_due(fiscal_year_end: date) -> date:
    """Last day of the 3rd month after the FY end: 2026-03-31 → 2026-06-30; 2026-12-31 → 2027-03-31."""
    return end_of_month(add_months(fiscal_year_end.replace(day=1), 3))


def annual_report_schedule(fiscal_year_end: date) -> AnnualReportSchedule:
    due = annual_report_due(fiscal_year_end)
    return AnnualReportSchedule(
        fiscal_year_end=fiscal_year_end,
        due_on=due,
        reminders_on=(add_months(due, 1), add_months(due, 2)),
        revocation_alert_on=add_years(due, 3),
    )


def annual_report_state(fiscal_year_end: date, filed_on: date | None, as_of: date) -> AnnualReportState:
    schedule = annual_report_schedule(fiscal_year_end)
    if filed_on is not None and filed_on <= as_of:
        return AnnualReportState.FILED_ON_TIME if filed_on <= schedule.due_on else AnnualReportState.FILED_LATE
    if as_of <= schedule.due_on:
        return AnnualReportState.NOT_DUE
    if as_of >= schedule.revocation_alert_on:
        return AnnualReportState.REVOCATION_RISK
    return AnnualReportState.OVERDUE


def late_annual_reports(filings: Mapping[date, date | None], period: JudgingPeriod, as_of: date) -> list[date]:
    """FY ends in ``period`` whose report was filed late, or is unfiled past its due date (absent = unfiled).

    Any of them makes an 認定/特例認定 application for that period fail (Nagano: every report on time).
    """
    late = []
    for fy in period.fiscal_years:
        state = annual_report_state(fy.end, filings.get(fy.end), as_of)
        if state not in (AnnualReportState.FILED_ON_TIME, AnnualReportState.NOT_DUE):
            late.append(fy.end)
    return late


# --- §4 認定 and 特例認定 ------------------------------------------------------------------------------------------

VALIDITY_YEARS = {CertificationKind.NINTEI: 5, CertificationKind.TOKUREI_NINTEI: 3}
REAPPLICATION_BAR_YEARS = 5


def certification_valid_until(kind: CertificationKind | str, granted_on: date) -> date:
    """認定 2012-09-16 → 2017-09-15 (5 years − 1 day); 特例認定 3 years − 1 day."""
    return add_years(granted_on, VALIDITY_YEARS[CertificationKind(kind)]) - ONE_DAY


@dataclass(frozen=True)
class RenewalWindow:
    opens_on: date
    closes_on: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.opens_on <= day <= self.closes_on


def renewal_window(valid_until: date, settings: CertificationSettings = DEFAULT_SETTINGS) -> RenewalWindow:
    """Tokyo 2017-09-15 → 2017-03-15…2017-06-15; Saitama 2017-12-31 → 2017-07-01…2017-09-30."""
    if settings.renewal_open is RenewalOpen.EXPIRY_MINUS_6M:
        opens_on = add_months(valid_until, -6)
    else:
        opens_on = add_months(valid_until + ONE_DAY, -6)
    return RenewalWindow(opens_on=opens_on, closes_on=add_months(valid_until, -3))


@dataclass(frozen=True)
class Reminder:
    on: date
    key: str  # "renewal_window_open" | "renewal_window_closing"


def renewal_reminders(valid_until: date, settings: CertificationSettings = DEFAULT_SETTINGS) -> tuple[Reminder, ...]:
    window = renewal_window(valid_until, settings)
    closing = window.closes_on - timedelta(days=settings.renewal_reminder_days_before_close)
    return (Reminder(window.opens_on, "renewal_window_open"), Reminder(closing, "renewal_window_closing"))


def renewed_term(valid_until: date) -> tuple[date, date]:
    """(first day, last day) of the renewed 認定: it starts the day after the old expiry."""
    starts_on = valid_until + ONE_DAY
    return starts_on, certification_valid_until(CertificationKind.NINTEI, starts_on)


class CertificationRecord(Protocol):
    kind: str
    granted_on: date
    valid_until: date
    renewal_filed_on: date | None
    #: Day the pending renewal was decided either way; an approval is a new record starting after the old expiry.
    renewal_decided_on: date | None
    #: First day the record no longer holds for another reason (revocation, dissolution, merger).
    ended_on: date | None


@dataclass(frozen=True)
class CertificationTerm:
    kind: str
    granted_on: date
    valid_until: date
    renewal_filed_on: date | None = None
    renewal_decided_on: date | None = None
    ended_on: date | None = None


class CertificationState(enum.StrEnum):
    NOT_YET = "not_yet"
    CERTIFIED = "certified"
    RENEWAL_PENDING = "renewal_pending"  # 認定(更新審査中): receipts keep the 認定 wording
    LAPSED = "lapsed"
    ENDED = "ended"


def certification_state_on(
    day: date, record: CertificationRecord, settings: CertificationSettings = DEFAULT_SETTINGS
) -> CertificationState:
    if day < record.granted_on:
        return CertificationState.NOT_YET
    if record.ended_on is not None and day >= record.ended_on:
        return CertificationState.ENDED
    if day <= record.valid_until:
        return CertificationState.CERTIFIED
    filed = record.renewal_filed_on
    pending = (
        CertificationKind(record.kind) is CertificationKind.NINTEI
        and filed is not None
        and filed in renewal_window(record.valid_until, settings)
        and (record.renewal_decided_on is None or day < record.renewal_decided_on)
    )
    return CertificationState.RENEWAL_PENDING if pending else CertificationState.LAPSED


def is_certified_on(day: date, record: CertificationRecord, settings: CertificationSettings = DEFAULT_SETTINGS) -> bool:
    """Whether a receipt dated ``day`` may carry the 認定 wording under ``record`` (receipts-and-tax.md R2)."""
    return certification_state_on(day, record, settings) in (
        CertificationState.CERTIFIED,
        CertificationState.RENEWAL_PENDING,
    )


def reapplication_barred_until(revoked_on: date) -> date:
    """Last day on which no new 認定/特例認定 application is possible: 2026-07-01 → 2031-06-30."""
    return add_years(revoked_on, REAPPLICATION_BAR_YEARS) - ONE_DAY


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    #: Keys: "too_young", "too_old_for_tokurei", "previously_certified", "revocation_bar", "late_annual_report".
    reasons: tuple[str, ...]


def application_eligibility(
    kind: CertificationKind | str,
    *,
    established_on: date,
    applied_on: date,
    previously_certified: bool = False,
    revoked_on: date | None = None,
    late_report_fiscal_year_ends: Iterable[date] = (),
) -> Eligibility:
    """Date-based eligibility (certification.md §4). 特例認定: established more than 1 and less than 5 years
    before the application, never 認定/特例認定 before. Late reports block both kinds."""
    kind = CertificationKind(kind)
    reasons = []
    if applied_on <= add_years(established_on, 1):
        reasons.append("too_young")
    if kind is CertificationKind.TOKUREI_NINTEI:
        if applied_on >= add_years(established_on, 5):
            reasons.append("too_old_for_tokurei")
        if previously_certified:
            reasons.append("previously_certified")
    if revoked_on is not None and applied_on <= reapplication_barred_until(revoked_on):
        reasons.append("revocation_bar")
    if any(True for _ in late_report_fiscal_year_ends):
        reasons.append("late_annual_report")
    return Eligibility(eligible=not reasons, reasons=tuple(reasons))


# --- §5 県指定 ---------------------------------------------------------------------------------------------------

DESIGNATION_RECHECK_YEARS = 5


@dataclass(frozen=True)
class DesignationRecheck:
    recheck_on: date
    window_opens_on: date
    window_closes_on: date


def designation_recheck(effective_on: date, cycle: int = 1) -> DesignationRecheck:
    """Effective 2022-04-01 → re-check 2027-04-01, filing window 2026-07-01…2026-09-01."""
    if cycle < 1:
        raise ValueError("cycle starts at 1")
    recheck_on = add_years(effective_on, DESIGNATION_RECHECK_YEARS * cycle)
    return DesignationRecheck(recheck_on, add_months(recheck_on, -9), add_months(recheck_on, -7))


def next_designation_recheck(effective_on: date, as_of: date) -> DesignationRecheck:
    cycle = 1
    while (recheck := designation_recheck(effective_on, cycle)).recheck_on < as_of:
        cycle += 1
    return recheck


__all__ = [
    "DEFAULT_SETTINGS",
    "INSPECTION_LENGTHS",
    "AnnualReportSchedule",
    "AnnualReportState",
    "CertificationKind",
    "CertificationRecord",
    "CertificationSettings",
    "CertificationState",
    "CertificationTerm",
    "DesignationRecheck",
    "Eligibility",
    "EstablishmentTimeline",
    "FiscalYear",
    "JudgingPeriod",
    "Reminder",
    "RenewalOpen",
    "RenewalWindow",
    "add_months",
    "add_years",
    "annual_report_due",
    "annual_report_schedule",
    "annual_report_state",
    "application_eligibility",
    "certification_state_on",
    "certification_valid_until",
    "count_months",
    "designation_recheck",
    "end_of_month",
    "establishment_timeline",
    "fiscal_year_end_for",
    "is_certified_on",
    "judging_period",
    "last_closed_fiscal_year_end",
    "late_annual_reports",
    "next_designation_recheck",
    "reapplication_barred_until",
    "renewal_reminders",
    "renewal_window",
    "renewed_term",
]
