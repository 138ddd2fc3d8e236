"""Calendar arithmetic and fiscal years: month steps clamped to the month end (2026-08-31 − 6 months =
2026-02-28), months in a period, and the 実績判定期間 (judging period) of the PST and 認定 rules."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext as _

ONE_DAY = timedelta(days=1)


def end_of_month(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` (negative allowed), clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def _months_period_end(start: date, months: int) -> date:
    # 民法143条: a period of N months counted from ``start`` ends the day before the corresponding day,
    # or at the month end when that month has no corresponding day (from 01-31, one month ends 02-28/29).
    target = add_months(start.replace(day=1), months)
    if start.day > calendar.monthrange(target.year, target.month)[1]:
        return end_of_month(target)
    return target.replace(day=start.day) - ONE_DAY


def count_months(start: date, end: date) -> int:
    """Months in ``[start, end]``; a remaining part of a month counts as a whole month (assumption, tax practice)."""
    if end < start:
        raise ValueError("end before start")
    months = 0
    while _months_period_end(start, months + 1) <= end:
        months += 1
    return months if months and _months_period_end(start, months) == end else months + 1


@dataclass(frozen=True)
class FiscalYear:
    start: date
    end: date

    @property
    def months(self) -> int:
        return count_months(self.start, self.end)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True)
class JudgingPeriod:
    fiscal_years: tuple[FiscalYear, ...]
    #: How many fiscal years the rule asks for (2 first/特例認定, 5 renewal); fewer exist for a young NPO.
    required_years: int

    @property
    def start(self) -> date:
        return self.fiscal_years[0].start

    @property
    def end(self) -> date:
        return self.fiscal_years[-1].end

    @property
    def months(self) -> int:
        return sum(fy.months for fy in self.fiscal_years)

    def fiscal_year_of(self, day: date) -> FiscalYear | None:
        return next((fy for fy in self.fiscal_years if day in fy), None)


#: The 決算月 of an organisation that has not said: March, the usual one.
DEFAULT_FISCAL_YEAR_END_MONTH = 3


def fiscal_year_end_for(day: date, fy_end_month: int) -> date:
    """End of the fiscal year (ending in ``fy_end_month``) that contains ``day``."""
    if not 1 <= fy_end_month <= 12:
        raise ValueError("fiscal-year end month must be 1–12")
    year = day.year if day.month <= fy_end_month else day.year + 1
    return end_of_month(date(year, fy_end_month, 1))


def last_closed_fiscal_year_end(fy_end_month: int, as_of: date) -> date:
    """A fiscal year is closed once its last day has passed (the FY ending on ``as_of`` is still open)."""
    return end_of_month(add_months(fiscal_year_end_for(as_of, fy_end_month), -12))


def judging_period(
    fy_end_month: int, as_of: date, *, renewal: bool = False, established_on: date | None = None
) -> JudgingPeriod:
    """The last 2 closed fiscal years (5 for a renewal). With ``established_on`` the first fiscal year starts on
    that day (it may be shorter than 12 months) and earlier years are dropped."""
    required = 5 if renewal else 2
    last_end = last_closed_fiscal_year_end(fy_end_month, as_of)
    years = []
    for back in range(required - 1, -1, -1):
        end = end_of_month(add_months(last_end, -12 * back))
        start = end_of_month(add_months(end, -12)) + ONE_DAY
        if established_on is not None:
            if established_on > end:
                continue
            start = max(start, established_on)
        years.append(FiscalYear(start, end))
    if not years:
        raise ValueError(
            _(
                "%(as_of)s までに終了した事業年度がありません（設立日 %(established)s）",
                as_of=as_of,
                established=established_on,
            )
        )
    return JudgingPeriod(tuple(years), required)
