"""What a PST check returns: counts per fiscal year, the relative standard, exclusions and warnings, and the JSON
shape ``flask pst check --json`` prints (``PstResult.to_dict``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

from flask_babel import lazy_gettext as _l

from kyodo_fund.certification.dates import FiscalYear, JudgingPeriod

if TYPE_CHECKING:
    from kyodo_fund.certification.pst import PstSettings


class Exclusion(enum.StrEnum):
    #: The unit holds an officer (役員) or a member of an officer's household (A2).
    OFFICER = "officer"
    #: The gift lacks the donor's name or address (A2); it stays in the 寄附者名簿.
    NO_NAME_OR_ADDRESS = "no_name_or_address"
    #: The gift is marked anonymous.
    ANONYMOUS = "anonymous"
    #: The unit's fiscal-year total stays under ¥3,000 (A3, A5).
    BELOW_THRESHOLD = "below_threshold"


EXCLUSION_LABELS = {
    Exclusion.OFFICER: _l("役員又はその世帯"),
    Exclusion.NO_NAME_OR_ADDRESS: _l("氏名又は住所が不明"),
    Exclusion.ANONYMOUS: _l("匿名の寄附"),
    Exclusion.BELOW_THRESHOLD: _l("年度合計が3,000円未満"),
}

#: Warning key → Japanese message; ``count`` and ``required`` are filled in.
WARNING_MESSAGES = {
    "missing_address": _l("住所のない寄附者が%(count)d名います（絶対値基準では数えません）"),
    "missing_name": _l("氏名のない寄附者（住所のみ）が%(count)d件あります"),
    "household_review": _l("複数の寄附者をまとめた世帯単位が%(count)d件あります。生計を一にするか確認してください"),
    "household_multiple_addresses": _l("住所の異なる寄附者をまとめた世帯単位が%(count)d件あります"),
    "officer_missing_address": _l("住所のない役員が%(count)d名います（氏名だけで照合しました）"),
    "short_history": _l("実績判定期間の事業年度が%(count)d年度分しかありません（通常は%(required)d年度）"),
    "revenue_incomplete": _l("収入データのない事業年度が%(count)d件あるため、相対値基準は判定していません"),
    "revenue_outside_period": _l("実績判定期間外の収入データ%(count)d件を無視しました"),
    "subsidy_unknown": _l("国の補助金等の内訳がない事業年度が%(count)d件あります（分子への算入は0円としました）"),
}


def warning(key: str, count: int, *, required: int = 0) -> dict:
    message = str(WARNING_MESSAGES[key]) % {"count": count, "required": required}
    return {"key": key, "count": count, "message": message}


# Tuples rather than frozen dataclasses: a platform PST builds one per donor and year, and a frozen dataclass's
# ``__init__`` costs several times more (bench/bench_pst.py). Both are just as immutable.
class ExcludedRow(NamedTuple):
    donor_name: str
    fiscal_year_end: date
    reason: Exclusion
    amount_yen: int


class CountedUnit(NamedTuple):
    donors: tuple[str, ...]
    amount_yen: int


class ExclusionTally(NamedTuple):
    """Per reason: how many excluded rows (one per donor and fiscal year, as ``ExcludedRow``) and their yen."""

    reason: Exclusion
    rows: int
    amount_yen: int


@dataclass(frozen=True)
class FiscalYearCount:
    fiscal_year: FiscalYear
    #: The counted units with their donors' names; empty in a summary (``count`` then says how many).
    counted: tuple[CountedUnit, ...]
    count: int | None = None

    @property
    def qualifying_donors(self) -> int:
        return len(self.counted) if self.count is None else self.count


@dataclass(frozen=True)
class AbsoluteResult:
    fiscal_years: tuple[FiscalYearCount, ...]
    annual_average: Fraction
    passes: bool

    @classmethod
    def judge(cls, counts: tuple[FiscalYearCount, ...], period: JudgingPeriod, target: int, normalise: str):
        total = sum(c.qualifying_donors for c in counts)
        # Compare in integers: Σcounts × 12 ≥ 100 × months, so no rounding decides a pass.
        if normalise == "fiscal_years":
            return cls(counts, Fraction(total, len(counts)), total >= target * len(counts))
        return cls(counts, Fraction(total * 12, period.months), total * 12 >= target * period.months)

    @property
    def total_qualifying_donors(self) -> int:
        return sum(c.qualifying_donors for c in self.fiscal_years)


@dataclass(frozen=True)
class RelativeResult:
    numerator_yen: int
    denominator_yen: int
    total_gifts_yen: int
    excess_yen: int
    small_donors_yen: int
    anonymous_yen: int
    total_revenue_yen: int
    excluded_revenue_yen: int
    #: B5 applied: small donors, anonymous gifts and officer households are not taken out.
    small_organisation: bool
    #: Units (officers' excluded) giving ≥ ¥3,000 over the whole period, for B5.
    qualifying_donors: int

    @property
    def passes(self) -> bool:
        return self.denominator_yen > 0 and self.numerator_yen * 5 >= self.denominator_yen

    @property
    def ratio(self) -> float | None:
        return round(self.numerator_yen / self.denominator_yen, 4) if self.denominator_yen > 0 else None


def _number(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else round(float(value), 2)


@dataclass(frozen=True)
class PstResult:
    period: JudgingPeriod
    absolute: AbsoluteResult
    relative: RelativeResult | None
    excluded: tuple[ExcludedRow, ...]
    warnings: tuple[dict, ...]
    settings: PstSettings
    #: A summary (the platform's SQL path) leaves ``excluded`` and each year's ``counted`` empty and gives the
    #: exclusions per reason here instead; ``exclusion_summary`` reads either form.
    exclusion_totals: tuple[ExclusionTally, ...] | None = None

    @property
    def passes(self) -> bool:
        return self.absolute.passes or bool(self.relative and self.relative.passes)

    @property
    def is_summary(self) -> bool:
        return self.exclusion_totals is not None

    @property
    def exclusion_summary(self) -> tuple[ExclusionTally, ...]:
        """Rows and yen per reason, in reason order, only reasons that occur."""
        if self.exclusion_totals is not None:
            return tuple(sorted(t for t in self.exclusion_totals if t.rows))
        tally: dict[Exclusion, list[int]] = {}
        for row in self.excluded:
            entry = tally.setdefault(row.reason, [0, 0])
            entry[0] += 1
            entry[1] += row.amount_yen
        return tuple(ExclusionTally(reason, rows, yen) for reason, (rows, yen) in sorted(tally.items()))

    def to_dict(self) -> dict[str, Any]:
        relative = None
        if self.relative is not None:
            r = self.relative
            relative = {
                "numerator_yen": r.numerator_yen,
                "denominator_yen": r.denominator_yen,
                "ratio": r.ratio,
                "passes": r.passes,
                "small_organisation": r.small_organisation,
                "total_gifts_yen": r.total_gifts_yen,
                "excess_yen": r.excess_yen,
                "small_donors_yen": r.small_donors_yen,
                "anonymous_yen": r.anonymous_yen,
                "total_revenue_yen": r.total_revenue_yen,
                "excluded_revenue_yen": r.excluded_revenue_yen,
                "qualifying_donors": r.qualifying_donors,
            }
        return {
            "period": {
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
                "months": self.period.months,
                "required_fiscal_years": self.period.required_years,
            },
            "absolute": {
                "fiscal_years": [
                    {
                        "start": c.fiscal_year.start.isoformat(),
                        "end": c.fiscal_year.end.isoformat(),
                        "months": c.fiscal_year.months,
                        "qualifying_donors": c.qualifying_donors,
                        "counted": [{"donors": list(u.donors), "amount_yen": u.amount_yen} for u in c.counted],
                    }
                    for c in self.absolute.fiscal_years
                ],
                "total_qualifying_donors": self.absolute.total_qualifying_donors,
                "annual_average": _number(self.absolute.annual_average),
                "passes": self.absolute.passes,
            },
            "relative": relative,
            "excluded": [
                {
                    "donor_name": e.donor_name,
                    "fiscal_year_end": e.fiscal_year_end.isoformat(),
                    "reason": str(e.reason),
                    "amount_yen": e.amount_yen,
                }
                for e in self.excluded
            ],
            "exclusion_summary": [
                {"reason": str(t.reason), "rows": t.rows, "amount_yen": t.amount_yen} for t in self.exclusion_summary
            ],
            "summary": self.is_summary,
            "warnings": [dict(w) for w in self.warnings],
            "passes": self.passes,
            "settings": {
                "household_sum": self.settings.household_sum,
                "officer_basis": str(self.settings.officer_basis),
                "abs_normalise": str(self.settings.abs_normalise),
                "rel_include_subsidy": self.settings.rel_include_subsidy,
            },
        }
