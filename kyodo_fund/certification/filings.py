"""事業報告書等 filings (the due date is the rules'; only the filing date is stored) and the revenue figures an
organisation enters for the relative PST."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.certification import rules
from kyodo_fund.certification.dates import DEFAULT_FISCAL_YEAR_END_MONTH
from kyodo_fund.certification.models import AnnualFiling, FiscalRevenue
from kyodo_fund.certification.services import CertificationError, check_day
from kyodo_fund.orgs.models import Organisation


def fiscal_year_end_month(org: Organisation) -> int:
    """The organisation's 決算月; March (the usual one) when it has not said."""
    return org.fiscal_year_end_month or DEFAULT_FISCAL_YEAR_END_MONTH


def _check_fiscal_year_end(org: Organisation, fiscal_year_end: date | None) -> date:
    if fiscal_year_end is None:
        raise CertificationError(_l("事業年度を選んでください。"), "fiscal_year_end")
    month = fiscal_year_end_month(org)
    if fiscal_year_end != rules.fiscal_year_end_for(fiscal_year_end, month):
        raise CertificationError(_l("事業年度の末日（決算日）を選んでください。"), "fiscal_year_end")
    return fiscal_year_end


def filings_of(session: Session, organisation_id: int) -> dict[date, date]:
    rows = session.execute(
        select(AnnualFiling.fiscal_year_end, AnnualFiling.filed_on).where(
            AnnualFiling.organisation_id == organisation_id
        )
    )
    return {fy_end: filed_on for fy_end, filed_on in rows}


def record_filing(
    session: Session,
    actor: Actor,
    org: Organisation,
    *,
    fiscal_year_end: date | None,
    filed_on: date | None,
    today: date,
) -> AnnualFiling:
    fy_end = _check_fiscal_year_end(org, fiscal_year_end)
    filed_on = check_day(filed_on, today, "filed_on")
    if filed_on <= fy_end:
        raise CertificationError(_l("事業報告書は事業年度が終わってから提出するものです。"), "filed_on")
    filing = session.scalar(
        select(AnnualFiling).where(AnnualFiling.organisation_id == org.id, AnnualFiling.fiscal_year_end == fy_end)
    )
    before = {"filed_on": filing.filed_on.isoformat()} if filing else None
    if filing is None:
        filing = AnnualFiling(organisation_id=org.id, fiscal_year_end=fy_end, filed_on=filed_on)
        session.add(filing)
    filing.filed_on = filed_on
    filing.recorded_by_id = getattr(actor.user, "id", None)
    session.flush()
    after = {"fiscal_year_end": fy_end.isoformat(), "filed_on": filed_on.isoformat()}
    record(session, actor, "certification.filing", ("Organisation", org.id), before=before, after=after)
    return filing


def revenues_of(session: Session, organisation_id: int) -> list[FiscalRevenue]:
    return list(
        session.scalars(
            select(FiscalRevenue)
            .where(FiscalRevenue.organisation_id == organisation_id)
            .order_by(FiscalRevenue.fiscal_year_end.desc())
        )
    )


def record_revenue(
    session: Session,
    actor: Actor,
    org: Organisation,
    *,
    fiscal_year_end: date | None,
    total_revenue_yen: int | None,
    excluded_revenue_yen: int | None,
    subsidy_yen: int | None = None,
) -> FiscalRevenue:
    fy_end = _check_fiscal_year_end(org, fiscal_year_end)
    total, excluded = total_revenue_yen or 0, excluded_revenue_yen or 0
    if min(total, excluded, subsidy_yen or 0) < 0:
        raise CertificationError(_l("金額は0円以上で入力してください。"), "total_revenue_yen")
    if excluded > total:
        raise CertificationError(_l("控除する収入が総収入金額を超えています。"), "excluded_revenue_yen")
    if subsidy_yen is not None and subsidy_yen > excluded:
        raise CertificationError(_l("国の補助金等は控除する収入の内数で入力してください。"), "subsidy_yen")
    row = session.scalar(
        select(FiscalRevenue).where(FiscalRevenue.organisation_id == org.id, FiscalRevenue.fiscal_year_end == fy_end)
    )
    before = None
    if row is None:
        row = FiscalRevenue(organisation_id=org.id, fiscal_year_end=fy_end)
        session.add(row)
    else:
        before = {"total": row.total_revenue_yen, "excluded": row.excluded_revenue_yen, "subsidy": row.subsidy_yen}
    row.total_revenue_yen, row.excluded_revenue_yen, row.subsidy_yen = total, excluded, subsidy_yen
    row.recorded_by_id = getattr(actor.user, "id", None)
    session.flush()
    after = {"fiscal_year_end": fy_end.isoformat(), "total": total, "excluded": excluded, "subsidy": subsidy_yen}
    record(session, actor, "certification.revenue", ("Organisation", org.id), before=before, after=after)
    return row
