"""Read-only queries behind the administrator and organisation donation dashboards: filtered lists, totals,
per-project summaries, fiscal years, ledger balances by purpose, and CSV rows for the exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from flask import Response
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from kyodo_fund.donations.models import Channel, Donation, DonationStatus, PaymentMethod
from kyodo_fund.ledger.models import (
    DISPUTES_HELD,
    FEES_DISPUTE,
    FEES_PLATFORM,
    FEES_PROCESSOR,
    FUND_GENERAL,
    REFUNDS_LOSS,
    STRIPE_CLEARING,
    account_spec,
)
from kyodo_fund.ledger.services import balances
from kyodo_fund.projects.models import PUBLIC_STATES, Project

#: Gifts where money arrived (whatever happened to it later); pending, failed and expired ones never did.
RECEIVED_STATES = (
    DonationStatus.PAID,
    DonationStatus.PARTIALLY_REFUNDED,
    DonationStatus.REFUNDED,
    DonationStatus.DISPUTED,
)
STATUS_LABELS = {
    DonationStatus.PENDING: _l("入金待ち"),
    DonationStatus.PAID: _l("受領済み"),
    DonationStatus.FAILED: _l("失敗"),
    DonationStatus.EXPIRED: _l("期限切れ"),
    DonationStatus.PARTIALLY_REFUNDED: _l("一部返金"),
    DonationStatus.REFUNDED: _l("返金済み"),
    DonationStatus.DISPUTED: _l("チャージバック対応中"),
}
CHANNEL_LABELS = {Channel.ONLINE: _l("オンライン"), Channel.OFFLINE: _l("オフライン")}
METHOD_LABELS = {
    PaymentMethod.CARD: _l("カード"),
    PaymentMethod.KONBINI: _l("コンビニ"),
    PaymentMethod.BANK_TRANSFER: _l("銀行振込"),
    PaymentMethod.CASH: _l("現金"),
    PaymentMethod.OTHER: _l("その他"),
}
#: For ``render_template(..., **LABELS)``.
LABELS = {"status_labels": STATUS_LABELS, "channel_labels": CHANNEL_LABELS, "method_labels": METHOD_LABELS}
#: The ``project`` filter value for undesignated gifts (underscores never occur in slugs).
GENERAL_FUND = "_general"


@dataclass
class DonationFilters:
    status: DonationStatus | None = None
    channel: Channel | None = None
    project_slug: str = ""
    since: date | None = None
    until: date | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DonationFilters:
        """Unknown or malformed values are ignored, like an unset filter."""
        return cls(
            status=_enum_or_none(DonationStatus, args.get("status", "")),
            channel=_enum_or_none(Channel, args.get("channel", "")),
            project_slug=args.get("project", "").strip()[:60],
            since=_date_or_none(args.get("since", "")),
            until=_date_or_none(args.get("until", "")),
            q=args.get("q", "").strip()[:100],
        )

    def as_args(self) -> dict[str, str]:
        values = {
            "status": self.status.value if self.status else "",
            "channel": self.channel.value if self.channel else "",
            "project": self.project_slug,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "q": self.q,
        }
        return {k: v for k, v in values.items() if v}


def _enum_or_none(enum_class, value: str):
    try:
        return enum_class(value) if value else None
    except ValueError:
        return None


def _date_or_none(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filtered_donations(filters: DonationFilters) -> Select:
    """Donations matching the filters, the most recently received first (pending ones, not yet received, on top)."""
    stmt = select(Donation)
    if filters.status is not None:
        stmt = stmt.where(Donation.status == filters.status)
    if filters.channel is not None:
        stmt = stmt.where(Donation.channel == filters.channel)
    if filters.project_slug == GENERAL_FUND:
        stmt = stmt.where(Donation.project_id.is_(None))
    elif filters.project_slug:
        stmt = stmt.where(
            Donation.project_id == select(Project.id).where(Project.slug == filters.project_slug).scalar_subquery()
        )
    if filters.since is not None:
        stmt = stmt.where(Donation.received_on >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(Donation.received_on <= filters.until)
    if filters.q:
        stmt = stmt.where(
            or_(
                Donation.donor_name.icontains(filters.q, autoescape=True),
                Donation.donor_kana.icontains(filters.q, autoescape=True),
                Donation.donor_email.icontains(filters.q, autoescape=True),
            )
        )
    return stmt.order_by(Donation.received_on.desc().nulls_first(), Donation.id.desc())


@dataclass(frozen=True)
class Totals:
    count: int
    gross_yen: int
    refunded_yen: int

    @property
    def net_yen(self) -> int:
        return self.gross_yen - self.refunded_yen


def totals(session: Session, stmt: Select) -> Totals:
    sub = stmt.order_by(None).subquery()
    row = session.execute(
        select(
            func.count(), func.coalesce(func.sum(sub.c.amount_yen), 0), func.coalesce(func.sum(sub.c.refunded_yen), 0)
        )
    ).one()
    return Totals(int(row[0]), int(row[1]), int(row[2]))


def projects_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, Project]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Project).where(Project.id.in_(wanted)))}


def filter_projects(session: Session) -> list[Project]:
    """Projects worth offering in the admin filter: those that ever took gifts, or could."""
    has_gifts = select(Donation.project_id).where(Donation.project_id.is_not(None)).distinct()
    stmt = select(Project).where(or_(Project.status.in_(PUBLIC_STATES), Project.id.in_(has_gifts)))
    return list(session.scalars(stmt.order_by(Project.title)))


# --- organisation side -----------------------------------------------------------------------------


def fiscal_year_range(fiscal_year: int, end_month: int) -> tuple[date, date]:
    """First and last day of the fiscal year that starts in calendar year ``fiscal_year`` (2025年度 = 2025-04-01 …)."""
    start = date(fiscal_year, end_month % 12 + 1, 1)
    return start, date(fiscal_year + 1, start.month, 1) - timedelta(days=1)


def fiscal_year_of(day: date, end_month: int) -> int:
    return day.year if day.month >= end_month % 12 + 1 else day.year - 1


def org_donations(
    org_id: int, *, project_slug: str = "", since: date | None = None, until: date | None = None
) -> Select:
    """Received gifts to the organisation's projects, in the order of the 寄附者名簿 (by date received)."""
    stmt = (
        select(Donation)
        .join(Project, Project.id == Donation.project_id)
        .where(Project.organisation_id == org_id, Donation.status.in_(RECEIVED_STATES))
    )
    if project_slug:
        stmt = stmt.where(Project.slug == project_slug)
    if since is not None:
        stmt = stmt.where(Donation.received_on >= since)
    if until is not None:
        stmt = stmt.where(Donation.received_on <= until)
    return stmt.order_by(Donation.received_on, Donation.id)


@dataclass(frozen=True)
class ProjectSummary:
    project: Project
    count: int
    gross_yen: int
    refunded_yen: int
    #: What the project's fund still holds (grantable), from the ledger.
    balance_yen: int

    @property
    def net_yen(self) -> int:
        return self.gross_yen - self.refunded_yen


def project_summaries(
    session: Session, org_id: int, *, since: date | None = None, until: date | None = None
) -> list[ProjectSummary]:
    """Per project of the organisation: gifts received in the period and the fund's balance today."""
    stmt = org_donations(org_id, since=since, until=until).order_by(None).subquery()
    sums = {
        pid: (int(n), int(gross), int(refunded))
        for pid, n, gross, refunded in session.execute(
            select(
                stmt.c.project_id, func.count(), func.sum(stmt.c.amount_yen), func.sum(stmt.c.refunded_yen)
            ).group_by(stmt.c.project_id)
        )
    }
    funds = fund_balances(session)
    projects = session.scalars(select(Project).where(Project.organisation_id == org_id).order_by(Project.title))
    out = []
    for p in projects:
        n, gross, refunded = sums.get(p.id, (0, 0, 0))
        balance = funds.get(p.id, 0)
        if n or balance or p.status in PUBLIC_STATES:
            out.append(ProjectSummary(p, n, gross, refunded, balance))
    return out


# --- the ledger, by purpose ----------------------------------------------------------------------


def _per_id(raw: Mapping[str, int], prefix: str) -> dict[int, int]:
    """``{id: −raw balance}`` of the per-id accounts under ``prefix`` (funds owed, or grants paid out)."""
    return {int(key.removeprefix(prefix)): -amount for key, amount in raw.items() if key.startswith(prefix)}


def fund_balances(session: Session) -> dict[int, int]:
    """Grantable balance of every project fund that was ever posted to, by project id."""
    return _per_id(balances(session, "fund:project:"), "fund:project:")


@dataclass(frozen=True)
class LedgerOverview:
    #: project id → grantable balance
    project_funds: dict[int, int]
    general_fund_yen: int
    #: org id → total granted so far
    grants_by_org: dict[int, int]
    disputes_held_yen: int
    platform_fees_yen: int
    processor_fees_yen: int
    dispute_fees_yen: int
    refund_losses_yen: int
    clearing_yen: int

    @property
    def grants_paid_yen(self) -> int:
        return sum(self.grants_by_org.values())

    @property
    def project_funds_yen(self) -> int:
        return sum(self.project_funds.values())


def ledger_overview(session: Session) -> LedgerOverview:
    """Every account's balance read the way it grows, from one query over the whole chart of accounts."""
    raw = balances(session, "")

    def natural(key: str) -> int:
        return account_spec(key)[0].normal_sign * raw.get(key, 0)

    return LedgerOverview(
        project_funds=_per_id(raw, "fund:project:"),
        general_fund_yen=natural(FUND_GENERAL),
        grants_by_org=_per_id(raw, "grants:paid:"),
        disputes_held_yen=natural(DISPUTES_HELD),
        platform_fees_yen=natural(FEES_PLATFORM),
        processor_fees_yen=natural(FEES_PROCESSOR),
        dispute_fees_yen=natural(FEES_DISPUTE),
        refund_losses_yen=natural(REFUNDS_LOSS),
        clearing_yen=natural(STRIPE_CLEARING),
    )


# --- CSV -------------------------------------------------------------------------------------------

#: A cell starting with one of these is a formula to a spreadsheet (CSV injection); donors type names freely.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> bytes:
    """UTF-8 with a BOM, so Excel opens Japanese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def csv_response(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Donors' personal data: no copy in shared caches or the browser's cache.
    response.headers["Cache-Control"] = "no-store"
    return response
