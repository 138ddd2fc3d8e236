"""Public support test (PST, certification.md §6): which household units count, per fiscal year.

Two steps, so that the database can take over the heavy part later:

(a) ``link_households`` resolves every donor identity and household label to its unit (a ``UnitDirectory``), and
    ``group_gifts`` turns raw gifts into ``DonorYearTotal`` rows, one per (donor, fiscal year) — the shape a SQL
    ``GROUP BY`` over donations joined to donors produces;
(b) ``judge_pst`` applies rules A1–A7 and B1–B5 to those pre-aggregated rows (plus the directory, for officers)
    only; it never sees a single gift.

``check_pst`` chains the judging period, (a) and (b) for in-memory data (the CLI and tests).

Units (A1). A donor is identified by normalised name + address (NFKC, every whitespace removed, case-folded).
Household labels are normalised the same way and are scoped to the whole input, not to an address: people who
生計を一にする may live apart (a student child, 単身赴任), and the label is the organisation's explicit statement.
Each gift carrying a label joins its donor to that label; a unit is a connected group of donors and labels. So a
donor who once gave under a label belongs to that household for all gifts, and a donor seen under two labels merges
both households; units with several donors or addresses are flagged for review. Anonymous gifts and gifts lacking
a name or an address never join a unit (A2) and are listed as excluded.

Officers (A2, A6) match a unit when their normalised name + address equals a member's, when their household label
is one of the unit's labels, or — for an officer listed without an address — when their name equals a member's
name (deliberately conservative: excluding too much can only make the test harder to pass).
"""

from __future__ import annotations

import bisect
import enum
import functools
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from kyodo_fund.certification.dates import FiscalYear, JudgingPeriod, judging_period
from kyodo_fund.certification.pst_relative import relative_standard, unit_total
from kyodo_fund.certification.pst_result import (
    AbsoluteResult,
    CountedUnit,
    ExcludedRow,
    Exclusion,
    FiscalYearCount,
    PstResult,
    warning,
)


class OfficerBasis(enum.StrEnum):
    ANY_TIME_IN_FY = "any_time_in_fy"
    JUDGING_DATE = "judging_date"


class AbsNormalise(enum.StrEnum):
    #: Σcounts × 12 ÷ months of the period ≥ 100 (A4).
    MONTHS = "months"
    #: Σcounts ÷ number of fiscal years ≥ 100.
    FISCAL_YEARS = "fiscal_years"


@dataclass(frozen=True)
class PstSettings:
    household_sum: bool = True
    officer_basis: OfficerBasis = OfficerBasis.ANY_TIME_IN_FY
    abs_normalise: AbsNormalise = AbsNormalise.MONTHS
    rel_include_subsidy: bool = False
    unit_threshold_yen: int = 3_000
    annual_target: int = 100
    small_donor_yen: int = 1_000
    small_org_revenue_yen: int = 8_000_000
    small_org_min_donors: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "officer_basis", OfficerBasis(self.officer_basis))
        object.__setattr__(self, "abs_normalise", AbsNormalise(self.abs_normalise))

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> PstSettings:
        return cls(
            household_sum=bool(config.get("PST_HOUSEHOLD_SUM", True)),
            officer_basis=OfficerBasis(str(config.get("PST_OFFICER_BASIS", OfficerBasis.ANY_TIME_IN_FY))),
            abs_normalise=AbsNormalise(str(config.get("PST_ABS_NORMALISE", AbsNormalise.MONTHS))),
            rel_include_subsidy=bool(config.get("PST_REL_INCLUDE_SUBSIDY", False)),
        )


@dataclass(frozen=True)
class Gift:
    received_on: date
    amount_yen: int
    donor_name: str = ""
    donor_address: str = ""
    household: str = ""
    anonymous: bool = False
    #: The donor is a 認定NPO法人等: its excess is measured over 50 % instead of 10 % (B3).
    donor_is_nintei: bool = False


@dataclass(frozen=True)
class Officer:
    name: str
    address: str = ""
    household: str = ""
    served_from: date | None = None
    served_to: date | None = None

    def serves_during(self, start: date, end: date) -> bool:
        return (self.served_from is None or self.served_from <= end) and (
            self.served_to is None or self.served_to >= start
        )


@dataclass(frozen=True)
class FiscalRevenue:
    fiscal_year_end: date
    #: 総収入金額, gifts included.
    total_revenue_yen: int
    #: 国の補助金等 and the other listed items taken out of the denominator (B2).
    excluded_revenue_yen: int = 0
    #: The 国の補助金等 part of ``excluded_revenue_yen``; only used with ``rel_include_subsidy`` (B4).
    subsidy_yen: int | None = None


class DonorYearTotal(NamedTuple):
    """One donor's gifts in one fiscal year: the row (b) works on. A tuple, not a frozen dataclass: the platform
    builds one per donor and year, and tuples are several times cheaper to create (bench/bench_pst.py)."""

    fiscal_year_end: date
    name_key: str
    address_key: str
    donor_name: str
    amount_yen: int
    #: The household unit; ``None`` when the gifts cannot be attributed (``unattributed`` says why).
    unit_key: str | None
    household_keys: frozenset[str] = frozenset()
    unattributed: Exclusion | None = None
    donor_is_nintei: bool = False

    @property
    def identity(self) -> tuple[str, str]:
        return self.name_key, self.address_key


@functools.lru_cache(maxsize=65_536)
def normalise(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


# --- (a) grouping ------------------------------------------------------------------------------------------------


class UnionFind:
    """Connected groups of comparable nodes; each group's root is its smallest node."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, node: Any) -> Any:
        self.parent.setdefault(node, node)
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller key wins so the unit key does not depend on the order of the gifts.
            self.parent[max(ra, rb)] = min(ra, rb)


def _donor_node(name_key: str, address_key: str) -> str:
    return f"d:{name_key}\x1f{address_key}"


@dataclass(frozen=True)
class UnitDirectory:
    """The unit of every donor identity and household label seen in any gift, whatever its date: officers are
    matched through it, so an officer whose own gifts fall outside the period still excludes their household."""

    donors: Mapping[tuple[str, str], str]
    labels: Mapping[str, str]


def link_households(gifts: Iterable[Gift]) -> UnitDirectory:
    keys = (
        (normalise(g.donor_name), normalise(g.donor_address), normalise(g.household)) for g in gifts if not g.anonymous
    )
    return link_keys(keys)


def link_keys(keys: Iterable[tuple[str, str, str]]) -> UnitDirectory:
    """The directory over already normalised (name, address, household label) keys of gifts that are not anonymous
    (e.g. the rows of a SQL aggregate, normalised once); keys lacking a name or an address are skipped (A2)."""
    units = UnionFind()
    identities, labels = set(), set()
    # Only labels link donors: an identity never seen under a label is its own unit, so it needs no union-find
    # node. Each root is the smallest node of its component, so neither the order nor repeats of keys matter.
    for name_key, address_key, label in keys:
        if not (name_key and address_key):
            continue
        identities.add((name_key, address_key))
        if label:
            labels.add(label)
            units.union(_donor_node(name_key, address_key), f"h:{label}")
    find, linked = units.find, units.parent
    donors = {}
    for identity in identities:
        node = _donor_node(*identity)
        donors[identity] = find(node) if node in linked else node
    return UnitDirectory(donors=donors, labels={label: find(f"h:{label}") for label in labels})


def group_gifts(
    gifts: Iterable[Gift], period: JudgingPeriod, directory: UnitDirectory | None = None
) -> list[DonorYearTotal]:
    """Rows per (donor, fiscal year) for gifts inside ``period``; households linked over every gift given."""
    gifts = list(gifts)
    directory = directory or link_households(gifts)
    fy_ends = [fy.end for fy in period.fiscal_years]
    totals: dict[tuple, list] = {}  # key → [display name, amount, labels, 認定NPO等]
    first_day, last_day = period.start, period.end
    for gift in gifts:
        if not first_day <= gift.received_on <= last_day:
            continue
        fy_end = fy_ends[bisect.bisect_left(fy_ends, gift.received_on)]
        name_key, address_key = normalise(gift.donor_name), normalise(gift.donor_address)
        if gift.anonymous:
            reason = Exclusion.ANONYMOUS.value
        elif not (name_key and address_key):
            reason = Exclusion.NO_NAME_OR_ADDRESS.value
        else:
            reason = ""
        key = (fy_end, name_key, address_key, reason)
        row = totals.get(key)
        if row is None:
            row = totals[key] = [gift.donor_name.strip(), 0, frozenset(), False]
        row[1] += gift.amount_yen
        row[3] = row[3] or gift.donor_is_nintei
        if (label := normalise(gift.household)) and label not in row[2]:
            row[2] = row[2] | {label}

    return [
        DonorYearTotal(
            fiscal_year_end=fy_end,
            name_key=name_key,
            address_key=address_key,
            donor_name=name,
            amount_yen=amount,
            unit_key=None if reason else directory.donors[(name_key, address_key)],
            household_keys=labels,
            unattributed=Exclusion(reason) if reason else None,
            donor_is_nintei=nintei,
        )
        for (fy_end, name_key, address_key, reason), (name, amount, labels, nintei) in sorted(totals.items())
    ]


# --- (b) judging -------------------------------------------------------------------------------------------------


@dataclass
class _Unit:
    key: str
    members: dict[tuple[str, str], str]
    labels: set[str]


def _collect_units(rows: Sequence[DonorYearTotal]) -> dict[str, _Unit]:
    units: dict[str, _Unit] = {}
    for row in rows:
        unit_key = row.unit_key
        if unit_key is None:
            continue
        unit = units.get(unit_key)
        if unit is None:
            unit = units[unit_key] = _Unit(unit_key, {}, set())
        identity = (row.name_key, row.address_key)
        if identity not in unit.members:
            unit.members[identity] = row.donor_name
        if row.household_keys:
            unit.labels |= row.household_keys
    return units


def _officer_units(
    officers: Sequence[Officer], units: Mapping[str, _Unit], directory: UnitDirectory | None
) -> dict[Officer, set[str]]:
    if not officers:
        return {}
    if directory is None:
        directory = UnitDirectory(
            donors={identity: unit.key for unit in units.values() for identity in unit.members},
            labels={label: unit.key for unit in units.values() for label in unit.labels},
        )
    by_name: dict[str, set[str]] = defaultdict(set)
    if any(not normalise(o.address) for o in officers):
        for (name_key, _address_key), unit_key in directory.donors.items():
            by_name[name_key].add(unit_key)
    matched = {}
    for officer in officers:
        name_key, address_key, label = normalise(officer.name), normalise(officer.address), normalise(officer.household)
        keys = {directory.labels[label]} if label in directory.labels else set()
        if address_key:
            keys.update(filter(None, [directory.donors.get((name_key, address_key))]))
        else:
            keys |= by_name.get(name_key, set())
        matched[officer] = keys
    return matched


def _excluded_per_fy(
    period: JudgingPeriod,
    officers: Sequence[Officer],
    matched: Mapping[Officer, set[str]],
    as_of: date,
    basis: OfficerBasis,
) -> dict[date, set[str]]:
    result = {}
    for fy in period.fiscal_years:
        if basis is OfficerBasis.JUDGING_DATE:
            active = [o for o in officers if o.serves_during(as_of, as_of)]
        else:
            active = [o for o in officers if o.serves_during(fy.start, fy.end)]
        result[fy.end] = set().union(*(matched[o] for o in active))
    return result


def judge_pst(
    rows: Iterable[DonorYearTotal],
    *,
    period: JudgingPeriod,
    as_of: date,
    officers: Sequence[Officer] = (),
    revenue: Sequence[FiscalRevenue] | None = None,
    settings: PstSettings | None = None,
    directory: UnitDirectory | None = None,
) -> PstResult:
    """Judge pre-aggregated rows. ``directory`` (all donors' and labels' units, any date) lets officers match
    households through gifts outside the period; without it only the rows' own donors and labels are known."""
    settings = settings or PstSettings()
    fy_ends = {fy.end for fy in period.fiscal_years}
    rows = [row for row in rows if row.fiscal_year_end in fy_ends]
    units = _collect_units(rows)
    officers = list(dict.fromkeys(officers))
    officer_units = _excluded_per_fy(
        period, officers, _officer_units(officers, units, directory), as_of, settings.officer_basis
    )

    by_fy: dict[date, dict[str, dict[tuple[str, str], int]]] = {fy.end: {} for fy in period.fiscal_years}
    excluded: list[ExcludedRow] = []
    for row in rows:
        if row.unit_key is None:
            excluded.append(ExcludedRow(row.donor_name, row.fiscal_year_end, row.unattributed, row.amount_yen))
            continue
        in_year = by_fy[row.fiscal_year_end]
        amounts = in_year.get(row.unit_key)
        if amounts is None:
            amounts = in_year[row.unit_key] = {}
        identity = (row.name_key, row.address_key)
        amounts[identity] = amounts.get(identity, 0) + row.amount_yen

    threshold, total = settings.unit_threshold_yen, unit_total(settings)
    counts = []
    for fy in period.fiscal_years:
        counted = []
        officers_in_year = officer_units[fy.end]
        for unit_key, amounts in by_fy[fy.end].items():
            members = units[unit_key].members
            if unit_key in officers_in_year:
                reason: Exclusion | None = Exclusion.OFFICER
            elif total(amounts.values()) >= threshold:
                if len(amounts) == 1:  # most units are one person: skip building and sorting a list
                    [(identity, amount)] = amounts.items()
                    counted.append(CountedUnit((members[identity],), amount))
                else:
                    counted.append(CountedUnit(tuple(sorted(members[i] for i in amounts)), sum(amounts.values())))
                continue
            else:
                reason = Exclusion.BELOW_THRESHOLD
            excluded.extend(ExcludedRow(members[i], fy.end, reason, amount) for i, amount in amounts.items())
        counted.sort()  # by (donors, amount_yen): the tuple's own order
        counts.append(FiscalYearCount(fy, tuple(counted)))

    absolute = AbsoluteResult.judge(tuple(counts), period, settings.annual_target, settings.abs_normalise)
    relative, relative_warnings = (None, [])
    if revenue is not None:
        relative, relative_warnings = relative_standard(rows, officer_units, period, revenue, settings)
    warnings = _warnings(rows, units, officers, period) + relative_warnings
    excluded.sort(key=lambda e: (e.fiscal_year_end, e.reason, e.donor_name, e.amount_yen))
    return PstResult(period, absolute, relative, tuple(excluded), tuple(warnings), settings)


def _warnings(
    rows: Sequence[DonorYearTotal], units: Mapping[str, _Unit], officers: Sequence[Officer], period: JudgingPeriod
) -> list[dict]:
    unnamed = [r for r in rows if r.unattributed is Exclusion.NO_NAME_OR_ADDRESS]
    counts = {
        "missing_address": len({r.name_key for r in unnamed if r.name_key and not r.address_key}),
        "missing_name": len({r.address_key for r in unnamed if r.address_key and not r.name_key}),
        "household_review": sum(1 for u in units.values() if len(u.members) > 1),
        "household_multiple_addresses": sum(1 for u in units.values() if len({a for _, a in u.members}) > 1),
    }
    return warnings_from_counts(counts, officers, period)


def warnings_from_counts(counts: Mapping[str, int], officers: Sequence[Officer], period: JudgingPeriod) -> list[dict]:
    """The warnings, in their order, from the data-dependent counts (missing_address, missing_name,
    household_review, household_multiple_addresses) plus the officers' and the period's own."""
    counts = {
        **counts,
        "officer_missing_address": sum(1 for o in officers if not normalise(o.address)),
        "short_history": len(period.fiscal_years) if len(period.fiscal_years) < period.required_years else 0,
    }
    return [warning(key, count, required=period.required_years) for key, count in counts.items() if count]


def check_pst(
    gifts: Iterable[Gift],
    *,
    fy_end_month: int,
    as_of: date,
    officers: Sequence[Officer] = (),
    renewal: bool = False,
    revenue: Sequence[FiscalRevenue] | None = None,
    established_on: date | None = None,
    settings: PstSettings | None = None,
) -> PstResult:
    gifts = list(gifts)
    period = judging_period(fy_end_month, as_of, renewal=renewal, established_on=established_on)
    directory = link_households(gifts)
    return judge_pst(
        group_gifts(gifts, period, directory),
        period=period,
        as_of=as_of,
        officers=officers,
        revenue=revenue,
        settings=settings,
        directory=directory,
    )


__all__ = [
    "AbsNormalise",
    "DonorYearTotal",
    "Exclusion",
    "FiscalRevenue",
    "FiscalYear",
    "Gift",
    "Officer",
    "OfficerBasis",
    "PstResult",
    "PstSettings",
    "UnitDirectory",
    "check_pst",
    "group_gifts",
    "judge_pst",
    "link_households",
    "link_keys",
    "normalise",
]
