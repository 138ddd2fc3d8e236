"""The relative standard of the PST (相対値基準, certification.md §6 B1–B5), over pre-aggregated donor rows.

Everything is summed over the whole judging period: 受入寄附金総額 is every gift (anonymous ones included), the
10 % (50 % for a 認定NPO等 donor) limit applies to each donor's period total, and donors whose period total is under
¥1,000 leave both sides together with the anonymous gifts. Gifts without a name or an address count as anonymous.
Officers and everyone in their household units are one donor for the limit; a small organisation (B5) skips that
aggregation and the two exclusions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from kyodo_fund.certification.dates import JudgingPeriod
from kyodo_fund.certification.pst_result import RelativeResult, warning

if TYPE_CHECKING:
    from kyodo_fund.certification.pst import DonorYearTotal, FiscalRevenue, PstSettings


def unit_total(settings: PstSettings) -> Callable[[Iterable[int]], int]:
    """What a unit's members' amounts add up to (resolved once, not per unit: there are tens of thousands)."""
    # Without household summing the unit still counts once, when any one member reaches the threshold (P1).
    return sum if settings.household_sum else max


class RelativeSums(NamedTuple):
    """What the relative standard needs from the gifts, summed over the judging period: the in-memory path
    (``relative_standard``) and the platform's SQL (``platform_pst``) both produce it."""

    #: 受入寄附金総額: every gift, unattributed ones included.
    total_gifts: int
    #: Anonymous gifts and gifts without a name or an address.
    unattributed: int
    #: Units (officers' excluded) whose period total reaches the threshold, for B5.
    qualifying: int
    #: Normal case (officer households as one donor): donors under ``small_donor_yen`` …
    small: int
    #: … and the others' excess over the 10 % (50 %) limit.
    excess: int
    #: B5 case (every officer on their own, no small-donor exclusion): the excess over the limit.
    excess_small_org: int


def relative_standard(
    rows: Sequence[DonorYearTotal],
    officer_units: Mapping[date, set[str]],
    period: JudgingPeriod,
    revenue: Sequence[FiscalRevenue],
    settings: PstSettings,
) -> tuple[RelativeResult | None, list[dict]]:
    return relative_from_sums(relative_sums(rows, officer_units, settings), period, revenue, settings)


def relative_sums(
    rows: Sequence[DonorYearTotal], officer_units: Mapping[date, set[str]], settings: PstSettings
) -> RelativeSums:
    any_officer = set().union(*officer_units.values())
    # One pass: totals per unit (for B5's count), per donor, and per officer unit; which of the last two the limit
    # uses for officers depends on B5, known only with the revenue. An identity belongs to exactly one unit.
    unit_amounts: dict[str, dict[tuple[str, str], int]] = {}
    donors: dict[tuple[str, str], list] = {}
    officer_donors: dict[tuple[str, str], list] = {}
    officer_unit_totals: dict[str, list] = {}
    total_gifts = unattributed = 0
    for row in rows:
        amount = row.amount_yen
        total_gifts += amount
        unit_key = row.unit_key
        if unit_key is None:
            unattributed += amount
            continue
        identity = (row.name_key, row.address_key)
        if unit_key in any_officer:
            for totals, key in ((officer_donors, identity), (officer_unit_totals, unit_key)):
                entry = totals.get(key)
                if entry is None:
                    totals[key] = [amount, row.donor_is_nintei]
                else:
                    entry[0] += amount
                    entry[1] = entry[1] or row.donor_is_nintei
            continue
        amounts = unit_amounts.get(unit_key)
        if amounts is None:
            amounts = unit_amounts[unit_key] = {}
        amounts[identity] = amounts.get(identity, 0) + amount
        entry = donors.get(identity)
        if entry is None:
            donors[identity] = [amount, row.donor_is_nintei]
        else:
            entry[0] += amount
            entry[1] = entry[1] or row.donor_is_nintei
    total, threshold = unit_total(settings), settings.unit_threshold_yen
    qualifying = sum(1 for a in unit_amounts.values() if total(a.values()) >= threshold)

    def over_limit(amount: int, nintei: bool) -> int:
        # 10 % of all gifts (50 % for a 認定NPO等 donor); flooring the limit errs on the strict side by under one yen.
        return max(0, amount - total_gifts * (50 if nintei else 10) // 100)

    excess = small = 0
    for amount, nintei in [*donors.values(), *officer_unit_totals.values()]:
        if amount < settings.small_donor_yen:
            small += amount
        else:
            excess += over_limit(amount, nintei)
    excess_small_org = sum(over_limit(a, n) for a, n in [*donors.values(), *officer_donors.values()])
    return RelativeSums(total_gifts, unattributed, qualifying, small, excess, excess_small_org)


def relative_from_sums(
    sums: RelativeSums, period: JudgingPeriod, revenue: Sequence[FiscalRevenue], settings: PstSettings
) -> tuple[RelativeResult | None, list[dict]]:
    by_fy = {r.fiscal_year_end: r for r in revenue}
    outside = sorted(set(by_fy) - {fy.end for fy in period.fiscal_years})
    notes = [warning("revenue_outside_period", len(outside))] if outside else []
    missing = [fy.end for fy in period.fiscal_years if fy.end not in by_fy]
    if missing:
        return None, [*notes, warning("revenue_incomplete", len(missing))]
    rows_in = [by_fy[fy.end] for fy in period.fiscal_years]
    total_revenue = sum(r.total_revenue_yen for r in rows_in)
    excluded_revenue = sum(r.excluded_revenue_yen for r in rows_in)
    small_org = (
        total_revenue * 12 < settings.small_org_revenue_yen * period.months
        and sums.qualifying >= settings.small_org_min_donors
    )
    # Officers and their households are one donor for the 10 % limit, and small donors and anonymous gifts leave
    # both sides, except for a small organisation (B5).
    excess = sums.excess_small_org if small_org else sums.excess
    small = 0 if small_org else sums.small
    anonymous = 0 if small_org else sums.unattributed
    total_gifts = sums.total_gifts
    numerator = total_gifts - excess - small - anonymous
    denominator = total_revenue - excluded_revenue - small - anonymous
    if settings.rel_include_subsidy:
        subsidies = [r.subsidy_yen for r in rows_in]
        if any(s is None for s in subsidies):
            notes.append(warning("subsidy_unknown", sum(1 for s in subsidies if s is None)))
        added = min(sum(s or 0 for s in subsidies), max(numerator, 0))
        numerator += added
        denominator += added
    return (
        RelativeResult(
            numerator_yen=numerator,
            denominator_yen=denominator,
            total_gifts_yen=total_gifts,
            excess_yen=excess,
            small_donors_yen=small,
            anonymous_yen=anonymous,
            total_revenue_yen=total_revenue,
            excluded_revenue_yen=excluded_revenue,
            small_organisation=small_org,
            qualifying_donors=sums.qualifying,
        ),
        notes,
    )
