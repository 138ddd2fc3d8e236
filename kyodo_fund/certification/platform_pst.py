"""The PST of an organisation from the platform's own data: donations to its projects, its 役員名簿 and the revenue
figures it entered. The heavy part runs in SQL: one ``GROUP BY`` over the donations (paid or partly refunded, net
of refunds, online and offline) per (fiscal year, raw donor name, raw address, household label, anonymous).
Python then merges the much smaller aggregate by the PST's normalised keys (NFKC cannot be done portably in SQL),
links households over it (``UnitDirectory``) and hands ``DonorYearTotal`` rows to ``pst.judge_pst``.

Gifts routed through the fund (A7) follow the platform's one recipient switch, ``PROGRAMME_RECIPIENT_MODEL`` (the
one the receipts use). Under the pass-through model (``"fund"``, the default of payments.md §10) the host fund
receives the gifts as its own revenue and grants them on: for the organisation's PST they are one donor — the fund,
named and addressed as in ``RECEIPT_ISSUER`` — per fiscal year, whatever the number of people who gave. As a
公益法人 (or 認定NPO法人) the fund is measured against the 50 % limit of B3. The gifts' net amounts on their receipt
dates stand in for the grants paid, which the fund decides later and pays net of its fee. Under ``"direct"`` (the
organisation receives and receipts the gifts itself) every donor counts on their own. There is no per-project
recipient model yet: the switch applies to every project.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import and_, case, false, func, literal, select
from sqlalchemy.orm import Session

from kyodo_fund.certification.dates import JudgingPeriod, judging_period
from kyodo_fund.certification.filings import fiscal_year_end_month
from kyodo_fund.certification.models import FiscalRevenue, LegalState
from kyodo_fund.certification.pst import (
    DonorYearTotal,
    Exclusion,
    Officer,
    PstResult,
    PstSettings,
    UnitDirectory,
    judge_pst,
    link_keys,
)
from kyodo_fund.certification.pst import FiscalRevenue as RevenueFigures
from kyodo_fund.certification.pst import normalise as normalise_text
from kyodo_fund.certification.services import legal_status_of
from kyodo_fund.donations.models import Donation, DonationStatus
from kyodo_fund.orgs.models import Organisation
from kyodo_fund.projects.models import Project
from kyodo_fund.tax.kinds import INCOME_DEDUCTIBLE

#: Gifts the organisation keeps: paid, or paid and partly given back (the net amount counts).
PST_STATUSES = (DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED)
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


def aggregate_statement(org: Organisation, period: JudgingPeriod, as_of: date, *, direct: bool, fund: tuple[str, str]):
    """The one ``GROUP BY``. Column ``fiscal_year`` is the 1-based index of the judging period's fiscal year the gift
    falls in, or 0 outside the period: those gifts only help link households (an officer's spouse who gave earlier
    still shares the officer's unit). Plain date comparisons: cheaper than ``extract`` on every row."""
    received = Donation.received_on
    fiscal_year = case(
        (received < period.start, 0),
        *((received <= fy.end, index) for index, fy in enumerate(period.fiscal_years, start=1)),
        else_=0,
    ).label("fiscal_year")
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
        .where(Donation.status.in_(PST_STATUSES), received <= as_of)
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


def pst_for_organisation(
    session: Session,
    org: Organisation,
    as_of: date,
    renewal: bool = False,
    *,
    config: Mapping[str, Any] | None = None,
) -> PstResult:
    """The PST of ``org`` judged on ``as_of`` over its platform gifts, officers and entered revenue figures."""
    if config is None:
        from flask import current_app

        config = current_app.config
    mode = platform_gifts_mode(config)
    month = fiscal_year_end_month(org)
    legal = legal_status_of(session, org)
    established_on = legal.established_on if legal is not None and legal.status is LegalState.REGISTERED else None
    period = judging_period(month, as_of, renewal=renewal, established_on=established_on)
    fund_name, fund_address, fund_is_nintei = host_fund(config)
    stmt = aggregate_statement(org, period, as_of, direct=mode == "direct", fund=(fund_name, fund_address))
    officers = [Officer(o.name, o.address, o.household_label) for o in org.officers]
    figures = session.scalars(select(FiscalRevenue).where(FiscalRevenue.organisation_id == org.id)).all()
    revenue = [
        RevenueFigures(f.fiscal_year_end, f.total_revenue_yen, f.excluded_revenue_yen, f.subsidy_yen) for f in figures
    ]
    aggregated = execute_aggregate(session, stmt)
    with _cyclic_gc_paused():
        rows, directory = donor_year_rows(
            aggregated,
            [fy.end for fy in period.fiscal_years],
            fund_is_nintei=mode == "fund" and fund_is_nintei,
        )
        return judge_pst(
            rows,
            period=period,
            as_of=as_of,
            officers=officers,
            revenue=revenue or None,
            settings=PstSettings.from_config(config),
            directory=directory,
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
