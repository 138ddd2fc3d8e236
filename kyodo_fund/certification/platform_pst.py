"""The PST of an organisation from the platform's own data: donations to its projects, its 役員名簿 and the revenue
figures it entered.

``pst_for_organisation`` (the status page, ``flask pst org``) judges in SQL and returns a summary ``PstResult``
(counts per fiscal year, exclusions per reason, warnings, the relative standard; no per-donor lists). It relies on
the integer donor identities and household units kept on write (``identities``): one inner ``GROUP BY (fiscal
year, pst_identity_id)`` over integers, joined to the identities for each gift's unit, and everything else —
qualifying units per year, officers' units, the exclusion totals, the relative standard's sums — computed from that
inside the same statement, which returns a handful of rows per fiscal year. Only the gifts that cannot be attributed
(anonymous, no name or address: a small share) come back as raw-text groups, normalised here to count them.
The donors' amounts per fiscal year are read from the year totals kept on write (``PstIdentityYear``), one row per
donor and year rather than one per gift.

``pst_details_for_organisation`` is the reference path with the per-donor lists (``flask pst org --json``): one
``GROUP BY`` per (fiscal year, raw donor name, raw address, household label, anonymous), merged in Python by the
PST's normalised keys, households linked over it (``link_keys``) and judged by ``pst.judge_pst``. Both link
households through every kept gift of the organisation, whatever its date (see ``identities``).

Gifts routed through the fund (A7) follow the platform's one recipient switch, ``PROGRAMME_RECIPIENT_MODEL`` (the
one the receipts use). Under the pass-through model (``"fund"``, the default of payments.md §10) the host fund
receives the gifts as its own revenue and grants them on: for the organisation's PST they are one donor — the fund,
named and addressed as in ``RECEIPT_ISSUER`` — per fiscal year, whatever the number of people who gave. As a
公益法人 (or 認定NPO法人) the fund is measured against the 50 % limit of B3. The gifts' net amounts on their receipt
dates stand in for the grants paid, which the fund decides later and pays net of its fee. Under ``"direct"`` (the
organisation receives and receipts the gifts itself) every donor counts on their own. There is no per-project
recipient model yet: the switch applies to every project. The pass-through mode has one donor per year, so it
always takes the detailed path (already close to a bare aggregate).
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from kyodo_fund.certification.dates import JudgingPeriod, add_months, end_of_month, judging_period
from kyodo_fund.certification.filings import fiscal_year_end_month
from kyodo_fund.certification.identities import KEPT_STATUSES
from kyodo_fund.certification.models import (
    FiscalRevenue,
    LegalState,
    PstDonorIdentity,
    PstHouseholdLabel,
    PstIdentityYear,
)
from kyodo_fund.certification.pst import (
    DonorYearTotal,
    Exclusion,
    Officer,
    PstResult,
    PstSettings,
    UnitDirectory,
    _excluded_per_fy,
    judge_pst,
    link_keys,
    warnings_from_counts,
)
from kyodo_fund.certification.pst import FiscalRevenue as RevenueFigures
from kyodo_fund.certification.pst import normalise as normalise_text
from kyodo_fund.certification.pst_relative import RelativeSums, relative_from_sums
from kyodo_fund.certification.pst_result import AbsoluteResult, ExclusionTally, FiscalYearCount
from kyodo_fund.certification.services import legal_status_of
from kyodo_fund.donations.models import Donation
from kyodo_fund.orgs.models import Organisation
from kyodo_fund.projects.models import Project
from kyodo_fund.tax.kinds import INCOME_DEDUCTIBLE

#: The gifts the PST counts: the ones the organisation keeps (see ``identities.KEPT_STATUSES``).
PST_STATUSES = KEPT_STATUSES
#: Used only when ``RECEIPT_ISSUER`` names no fund.
DEFAULT_FUND_NAME = "信州協働ファンド"
DEFAULT_FUND_ADDRESS = "長野県"


def platform_gifts_mode(config: Mapping[str, Any]) -> str:
    mode = str(config.get("PROGRAMME_RECIPIENT_MODEL", "fund"))
    if mode not in ("fund", "direct"):
        raise ValueError(f"PROGRAMME_RECIPIENT_MODEL must be 'fund' or 'direct', not {mode!r}")
    return mode


def host_fund(config: Mapping[str, Any]) -> tuple[str, str, bool]:
    """(name, address, measured against 50 %) of the host fund as the one donor of pass-through gifts."""
    issuer = config.get("RECEIPT_ISSUER") or {}
    return (
        str(issuer.get("name") or DEFAULT_FUND_NAME),
        str(issuer.get("address") or DEFAULT_FUND_ADDRESS),
        # B3's 50 % applies to 特定公益増進法人 (公益法人) and 認定NPO法人: the kinds whose gifts are deductible.
        str(issuer.get("kind") or "koeki") in INCOME_DEDUCTIBLE,
    )


def _fiscal_year_index(period: JudgingPeriod):
    """SQL: the 1-based index of the judging period's fiscal year a gift was received in, 0 outside the period.
    Plain date comparisons: cheaper than ``extract`` on every row."""
    received = Donation.received_on
    return case(
        (received < period.start, 0),
        *((received <= fy.end, index) for index, fy in enumerate(period.fiscal_years, start=1)),
        else_=0,
    )


def aggregate_statement(org: Organisation, period: JudgingPeriod, as_of: date, *, direct: bool, fund: tuple[str, str]):
    """The detailed path's ``GROUP BY``. Column ``fiscal_year`` is the 1-based index of the judging period's fiscal
    year the gift falls in, or 0 outside the period: those gifts only help link households (an officer's spouse who
    gave earlier, or later, still shares the officer's unit). ``as_of`` needs no cut: the period ends before it."""
    fiscal_year = _fiscal_year_index(period).label("fiscal_year")
    if direct:
        name, address, household, anonymous = (
            Donation.donor_name,
            Donation.donor_address,
            Donation.donor_household,
            Donation.anonymous,
        )
    else:
        name, address, household, anonymous = literal(fund[0]), literal(fund[1]), literal(""), false()
    keys = [
        fiscal_year,
        name.label("name"),
        address.label("address"),
        household.label("household"),
        anonymous.label("anonymous"),
    ]
    return (
        select(*keys, func.sum(Donation.amount_yen - Donation.refunded_yen).label("amount"), func.min(Donation.id))
        .join(Project, and_(Project.id == Donation.project_id, Project.organisation_id == org.id))
        # No cut at ``as_of``: later gifts fall in year 0 and only link households, as the stored units do.
        .where(Donation.status.in_(PST_STATUSES))
        .group_by(*(keys if direct else keys[:1]))
    )


def donor_year_rows(
    aggregated: list[tuple], fiscal_year_ends: list[date], *, fund_is_nintei: bool = False
) -> tuple[list[DonorYearTotal], UnitDirectory]:
    """Merge raw aggregate rows by normalised identity into ``DonorYearTotal`` rows (inside the period) and the
    ``UnitDirectory`` (over every row). The display name is the one of the earliest gift, as ``group_gifts`` does."""
    keys: set[tuple[str, str, str]] = set()
    totals: dict[tuple, list] = {}
    # An unbounded cache for this one merge in front of the shared LRU: with a million gifts the distinct names and
    # addresses outgrow the LRU, which then misses on every row (one NFKC pass per row and key).
    normalise = functools.cache(normalise_text)
    no_name_or_address = Exclusion.NO_NAME_OR_ADDRESS.value
    for index, name, address, household, anonymous, amount, first_id in aggregated:
        name_key, address_key, label = normalise(name), normalise(address), normalise(household)
        if anonymous:
            reason = Exclusion.ANONYMOUS.value
        else:
            # link_keys does not care about order or repeats: one key per identity and label is enough.
            keys.add((name_key, address_key, label))
            reason = "" if name_key and address_key else no_name_or_address
        if not index:
            continue
        row = totals.get(key := (fiscal_year_ends[index - 1], name_key, address_key, reason))
        if row is None:
            totals[key] = [first_id, name, int(amount), {label} if label else set()]
            continue
        if first_id < row[0]:
            row[0], row[1] = first_id, name
        row[2] += int(amount)
        if label:
            row[3].add(label)
    directory = link_keys(keys)
    units = directory.donors
    rows = [
        DonorYearTotal(
            fy_end,
            name_key,
            address_key,
            (name or "").strip(),
            amount,
            None if reason else units[(name_key, address_key)],
            frozenset(labels) if labels else _NO_LABELS,
            Exclusion(reason) if reason else None,
            fund_is_nintei,
        )
        for (fy_end, name_key, address_key, reason), (_first, name, amount, labels) in sorted(totals.items())
    ]
    return rows, directory


_NO_LABELS: frozenset[str] = frozenset()


class StaleIdentities(ValueError):
    """Gifts with a name and an address but no donor identity: written around the ORM and not reindexed."""


@dataclass(frozen=True)
class _Inputs:
    mode: str
    period: JudgingPeriod
    officers: list[Officer]
    revenue: list[RevenueFigures] | None
    settings: PstSettings
    fund: tuple[str, str, bool]


def _inputs(
    session: Session, org: Organisation, as_of: date, renewal: bool, config: Mapping[str, Any] | None
) -> _Inputs:
    if config is None:
        from flask import current_app

        config = current_app.config
    mode = platform_gifts_mode(config)
    legal = legal_status_of(session, org)
    established_on = legal.established_on if legal is not None and legal.status is LegalState.REGISTERED else None
    period = judging_period(fiscal_year_end_month(org), as_of, renewal=renewal, established_on=established_on)
    officers = [Officer(o.name, o.address, o.household_label) for o in org.officers]
    figures = session.scalars(select(FiscalRevenue).where(FiscalRevenue.organisation_id == org.id)).all()
    revenue = [
        RevenueFigures(f.fiscal_year_end, f.total_revenue_yen, f.excluded_revenue_yen, f.subsidy_yen) for f in figures
    ]
    return _Inputs(mode, period, officers, revenue or None, PstSettings.from_config(config), host_fund(config))


def pst_for_organisation(
    session: Session,
    org: Organisation,
    as_of: date,
    renewal: bool = False,
    *,
    config: Mapping[str, Any] | None = None,
) -> PstResult:
    """The PST of ``org`` judged on ``as_of`` over its platform gifts, officers and entered revenue figures: a
    summary (no per-donor lists) computed in SQL under the direct model; the detailed result under pass-through."""
    inputs = _inputs(session, org, as_of, renewal, config)
    if inputs.mode != "direct":
        return _detailed(session, org, as_of, inputs)
    return _summary(session, org, as_of, inputs)


def pst_details_for_organisation(
    session: Session,
    org: Organisation,
    as_of: date,
    renewal: bool = False,
    *,
    config: Mapping[str, Any] | None = None,
) -> PstResult:
    """The same judgement with every counted unit and excluded row named: the reference path, in Python over one
    row per donor and year (several times slower than ``pst_for_organisation`` on a large organisation)."""
    return _detailed(session, org, as_of, _inputs(session, org, as_of, renewal, config))


def _detailed(session: Session, org: Organisation, as_of: date, inputs: _Inputs) -> PstResult:
    fund_name, fund_address, fund_is_nintei = inputs.fund
    direct = inputs.mode == "direct"
    stmt = aggregate_statement(org, inputs.period, as_of, direct=direct, fund=(fund_name, fund_address))
    aggregated = execute_aggregate(session, stmt)
    with _cyclic_gc_paused():
        rows, directory = donor_year_rows(
            aggregated,
            [fy.end for fy in inputs.period.fiscal_years],
            fund_is_nintei=not direct and fund_is_nintei,
        )
        return judge_pst(
            rows,
            period=inputs.period,
            as_of=as_of,
            officers=inputs.officers,
            revenue=inputs.revenue,
            settings=inputs.settings,
            directory=directory,
        )


# --- the summary in SQL ----------------------------------------------------------------------------------------------

_identities = PstDonorIdentity.__table__
_labels = PstHouseholdLabel.__table__
_years = PstIdentityYear.__table__
#: Kinds of row the summary statement returns (one column ``kind``), see ``summary_statement``.
_PER_YEAR, _PER_DONOR, _PER_UNIT = 1, 2, 3


def officer_units(connection: Any, organisation_id: int, officers: Sequence[Officer]) -> dict[Officer, set[int]]:
    """Each officer's units, by the rules of ``pst._officer_units`` (name + address, household label, or the name
    alone for an officer without an address), through two small lookups on the identity and label tables."""
    if not officers:
        return {}
    names = sorted({normalise_text(o.name) for o in officers})
    labels = sorted({normalise_text(o.household) for o in officers} - {""})
    unit = func.coalesce(_identities.c.unit_id, _identities.c.id)
    members = connection.execute(
        select(_identities.c.name_key, _identities.c.address_key, unit).where(
            _identities.c.organisation_id == organisation_id, _identities.c.name_key.in_(names)
        )
    ).all()
    label_units = dict(
        connection.execute(
            select(_labels.c.label_key, _labels.c.unit_id).where(
                _labels.c.organisation_id == organisation_id, _labels.c.label_key.in_(labels)
            )
        ).all()
        if labels
        else []
    )
    matched = {}
    for officer in officers:
        name_key, address_key = normalise_text(officer.name), normalise_text(officer.address)
        label = normalise_text(officer.household)
        units = {label_units[label]} if label in label_units else set()
        units.update(u for n, a, u in members if n == name_key and (a == address_key or not address_key))
        matched[officer] = units
    return matched


def summary_statement(
    organisation_id: int,
    period: JudgingPeriod,
    as_of: date,
    settings: PstSettings,
    officers_by_year: Mapping[int, set[int]],
    unattributed_yen: int = 0,
):
    """One statement; rows (kind, fiscal_year, v1..v5):

    * ``_PER_YEAR`` per fiscal year: qualifying units, officer rows and yen, below-threshold rows and yen;
    * ``_PER_DONOR`` once: total gifts, unattributed yen, and the relative standard's donor sums (small donors,
      excess over the 10 % limit from ¥1,000 up, excess of every donor);
    * ``_PER_UNIT`` once: qualifying units over the period (B5), officer units' small and excess sums, units with
      several donors, units with several addresses.

    Donors' amounts per fiscal year come from the year totals kept on write (``PstIdentityYear``), except for a
    first fiscal year shortened by the establishment date, whose gifts are summed here (the stored year would
    include gifts from before the organisation existed). ``unattributed_yen`` is what ``unattributed_statement``
    found. ``officers_by_year`` maps a fiscal year's 1-based index to the units excluded as officers' that year.
    """
    years = _years
    full = {fy.end: index for index, fy in enumerate(period.fiscal_years, start=1) if _is_whole(fy)}
    parts = []
    if full:
        parts.append(
            select(
                case(*((years.c.fiscal_year_end == end, index) for end, index in full.items()), else_=0).label("fy"),
                years.c.identity_id.label("ident"),
                years.c.amount_yen.label("amount"),
            ).where(years.c.organisation_id == organisation_id, years.c.fiscal_year_end.in_(list(full)))
        )
    for index, fy in enumerate(period.fiscal_years, start=1):
        if fy.end not in full:
            parts.append(
                select(
                    literal(index).label("fy"),
                    Donation.pst_identity_id.label("ident"),
                    cast(func.sum(Donation.amount_yen - Donation.refunded_yen), BigInteger).label("amount"),
                )
                .join(Project, and_(Project.id == Donation.project_id, Project.organisation_id == organisation_id))
                .where(
                    Donation.status.in_(PST_STATUSES),
                    Donation.pst_identity_id.is_not(None),
                    Donation.received_on >= fy.start,
                    Donation.received_on <= min(fy.end, as_of),
                )
                .group_by(Donation.pst_identity_id)
            )
    per_gift_year = (parts[0] if len(parts) == 1 else union_all(*parts)).cte("dy")
    dy = per_gift_year.c
    unit = func.coalesce(_identities.c.unit_id, _identities.c.id)
    donor_year = (
        select(dy.fy, dy.ident, dy.amount, unit.label("unit"))
        .select_from(per_gift_year.join(_identities, _identities.c.id == dy.ident))
        .cte("du")
    )
    du = donor_year.c
    is_officer = or_(*(and_(du.fy == k, du.unit.in_(sorted(units))) for k, units in officers_by_year.items() if units))
    officer_flag = case((is_officer, 1), else_=0) if officers_by_year and any(officers_by_year.values()) else literal(0)
    unit_year = (
        select(
            du.fy,
            du.unit,
            cast(func.sum(du.amount), BigInteger).label("total"),
            func.max(du.amount).label("top"),
            func.count().label("members"),
            officer_flag.label("officer"),
        )
        .group_by(du.fy, du.unit)
        .cte("uy")
    )
    uy = unit_year.c
    threshold = settings.unit_threshold_yen
    # Without household summing a unit still counts once, when any one member reaches the threshold (P1).
    unit_amount = uy.total if settings.household_sum else uy.top
    counts = uy.officer == 0
    per_year = select(
        literal(_PER_YEAR).label("kind"),
        uy.fy,
        func.sum(case((and_(counts, unit_amount >= threshold), 1), else_=0)),
        func.sum(case((uy.officer == 1, uy.members), else_=0)),
        func.sum(case((uy.officer == 1, uy.total), else_=0)),
        func.sum(case((and_(counts, unit_amount < threshold), uy.members), else_=0)),
        func.sum(case((and_(counts, unit_amount < threshold), uy.total), else_=0)),
    ).group_by(uy.fy)

    totals = select(
        cast(func.coalesce(func.sum(dy.amount), 0) + unattributed_yen, BigInteger).label("gifts"),
        cast(literal(unattributed_yen), BigInteger).label("unattributed"),
    ).cte("tot")
    limit = (totals.c.gifts * 10 // 100).label("limit")
    any_officer = sorted(set().union(*officers_by_year.values())) if officers_by_year else []
    donor_period = (
        select(du.ident, du.unit, cast(func.sum(du.amount), BigInteger).label("amount"))
        .group_by(du.ident, du.unit)
        .cte("dp")
    )
    dp = donor_period.c
    donor_officer = dp.unit.in_(any_officer) if any_officer else false()
    small_yen = settings.small_donor_yen
    over = dp.amount - limit
    per_donor = select(
        literal(_PER_DONOR).label("kind"),
        cast(null(), Integer).label("fy"),
        func.max(totals.c.gifts),
        func.max(totals.c.unattributed),
        func.sum(case((and_(~donor_officer, dp.amount < small_yen), dp.amount), else_=0)),
        func.sum(case((and_(~donor_officer, dp.amount >= small_yen, over > 0), over), else_=0)),
        func.sum(case((over > 0, over), else_=0)),
    ).select_from(totals.outerjoin(donor_period, true()))

    unit_period = (
        select(
            dp.unit,
            cast(func.sum(dp.amount), BigInteger).label("total"),
            func.max(dp.amount).label("top"),
            func.count().label("members"),
            func.count(func.distinct(_identities.c.address_key)).label("addresses"),
        )
        .select_from(donor_period.join(_identities, _identities.c.id == dp.ident))
        .group_by(dp.unit)
        .cte("up")
    )
    up = unit_period.c
    unit_officer = up.unit.in_(any_officer) if any_officer else false()
    period_amount = up.total if settings.household_sum else up.top
    unit_over = up.total - limit
    per_unit = select(
        literal(_PER_UNIT).label("kind"),
        cast(null(), Integer).label("fy"),
        func.sum(case((and_(~unit_officer, period_amount >= threshold), 1), else_=0)),
        func.sum(case((and_(unit_officer, up.total < small_yen), up.total), else_=0)),
        func.sum(case((and_(unit_officer, up.total >= small_yen, unit_over > 0), unit_over), else_=0)),
        func.sum(case((up.members > 1, 1), else_=0)),
        func.sum(case((up.addresses > 1, 1), else_=0)),
    ).select_from(totals.outerjoin(unit_period, true()))

    return union_all(per_year, per_donor, per_unit)


def _is_whole(fy: Any) -> bool:
    """A fiscal year of twelve months, as the year totals are kept (not one shortened by the establishment)."""
    return fy.start == end_of_month(add_months(fy.end, -12)) + timedelta(days=1)


def unattributed_statement(organisation_id: int, period: JudgingPeriod, as_of: date):
    """(fiscal year, raw name, raw address, anonymous, yen) of the kept gifts without a donor identity (anonymous,
    or lacking a name or an address): a small share, found through the index on ``pst_identity_id``."""
    received = Donation.received_on
    fiscal_year = _fiscal_year_index(period).label("fy")
    keys = [fiscal_year, Donation.donor_name, Donation.donor_address, Donation.anonymous]
    return (
        select(*keys, cast(func.sum(Donation.amount_yen - Donation.refunded_yen), BigInteger))
        .join(Project, and_(Project.id == Donation.project_id, Project.organisation_id == organisation_id))
        .where(
            Donation.pst_identity_id.is_(None),
            Donation.status.in_(PST_STATUSES),
            received >= period.start,
            received <= min(period.end, as_of),
        )
        .group_by(*keys)
    )


def _summary(session: Session, org: Organisation, as_of: date, inputs: _Inputs) -> PstResult:
    period, settings, officers = inputs.period, inputs.settings, list(dict.fromkeys(inputs.officers))
    connection = session.connection()
    matched = officer_units(connection, org.id, officers)
    by_end = _excluded_per_fy(period, officers, matched, as_of, settings.officer_basis)
    officers_by_year = {k: by_end[fy.end] for k, fy in enumerate(period.fiscal_years, start=1)}
    unattributed: dict[tuple, int] = {}
    for fy, name, address, anonymous, yen in connection.execute(unattributed_statement(org.id, period, as_of)):
        name_key, address_key = normalise_text(name), normalise_text(address)
        if anonymous:
            reason = Exclusion.ANONYMOUS
        elif not (name_key and address_key):
            reason = Exclusion.NO_NAME_OR_ADDRESS
        else:
            raise StaleIdentities(
                "donations without a PST donor identity: run `flask pst reindex` for this organisation"
            )
        key = (fy, name_key, address_key, reason)
        unattributed[key] = unattributed.get(key, 0) + int(yen)
    stmt = summary_statement(org.id, period, as_of, settings, officers_by_year, sum(unattributed.values()))
    per_year: dict[int, list[int]] = {}
    per_donor = per_unit = [0] * 5
    for kind, fy, *values in execute_aggregate(session, stmt):
        numbers = [int(v or 0) for v in values]
        if kind == _PER_YEAR:
            per_year[fy] = numbers
        elif kind == _PER_DONOR:
            per_donor = numbers
        else:
            per_unit = numbers

    counts = tuple(
        FiscalYearCount(fy, (), count=per_year.get(k, [0] * 5)[0]) for k, fy in enumerate(period.fiscal_years, start=1)
    )
    absolute = AbsoluteResult.judge(counts, period, settings.annual_target, settings.abs_normalise)
    tallies = {reason: [0, 0] for reason in Exclusion}
    for _count, officer_rows, officer_yen, below_rows, below_yen in per_year.values():
        tallies[Exclusion.OFFICER][0] += officer_rows
        tallies[Exclusion.OFFICER][1] += officer_yen
        tallies[Exclusion.BELOW_THRESHOLD][0] += below_rows
        tallies[Exclusion.BELOW_THRESHOLD][1] += below_yen
    for (_fy, _name, _address, reason), yen in unattributed.items():
        tallies[reason][0] += 1
        tallies[reason][1] += yen

    gifts, unattributed_yen, small_donors, excess_donors, excess_every_donor = per_donor
    qualifying, small_officers, excess_officers, several_donors, several_addresses = per_unit
    relative, relative_warnings = (None, [])
    if inputs.revenue is not None:
        sums = RelativeSums(
            total_gifts=gifts,
            unattributed=unattributed_yen,
            qualifying=qualifying,
            small=small_donors + small_officers,
            excess=excess_donors + excess_officers,
            excess_small_org=excess_every_donor,
        )
        relative, relative_warnings = relative_from_sums(sums, period, inputs.revenue, settings)
    no_name = [key for key in unattributed if key[3] is Exclusion.NO_NAME_OR_ADDRESS]
    data_counts = {
        "missing_address": len({n for _fy, n, a, _r in no_name if n and not a}),
        "missing_name": len({a for _fy, n, a, _r in no_name if a and not n}),
        "household_review": several_donors,
        "household_multiple_addresses": several_addresses,
    }
    warnings = warnings_from_counts(data_counts, officers, period) + relative_warnings
    return PstResult(
        period,
        absolute,
        relative,
        (),
        tuple(warnings),
        settings,
        exclusion_totals=tuple(ExclusionTally(reason, rows, yen) for reason, (rows, yen) in tallies.items()),
    )


#: The ``GROUP BY`` holds one group per donor and year (about 100,000 for a million gifts): within PostgreSQL's
#: default 4 MB it spills to disk in batches and takes several times longer (bench/bench_pst.py).
AGGREGATE_WORK_MEM = "64MB"


def execute_aggregate(session: Session, stmt) -> list:
    """Execute an ``aggregate_statement``: plain Core rows; on PostgreSQL with its hash table kept in memory."""
    # Through the Core connection: the ORM's result processing costs more per row than merging the row does.
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(stmt).all()
    previous = connection.scalar(select(func.current_setting("work_mem")))
    # Transaction-local (is_local) and put back right after, so the rest of the request keeps its setting; if the
    # statement fails, the rollback undoes it.
    connection.execute(select(func.set_config("work_mem", AGGREGATE_WORK_MEM, True)))
    rows = connection.execute(stmt).all()
    connection.execute(select(func.set_config("work_mem", previous, True)))
    return rows


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    # Merging and judging build tens of thousands of small dicts, sets and tuples at once; each allocation burst
    # makes the cyclic collector rescan all of them (a third of the time in bench/bench_pst.py). None of them
    # form reference cycles, so collection can wait until the result is built.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
