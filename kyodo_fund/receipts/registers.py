"""寄附者名簿 (donor register, receipts-and-tax.md §8): per gift 氏名, 住所, 寄附金額, 受入年月日 for one
organisation's fiscal year; gifts from unknown donors (box, event, anonymous) with amount and date only.

Issuers of kind ``jorei_npo`` also owe, per calendar year, one list per donor municipality. With the fund model
the issuer is the host fund, so those lists exist only if the fund is configured as ``jorei_npo``.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from kyodo_fund.accounts.models import User
from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.donations.models import COUNTED_STATUSES, Channel, Donation
from kyodo_fund.orgs.data import MUNICIPALITIES
from kyodo_fund.projects.models import Project
from kyodo_fund.receipts.build import donor_snapshot
from kyodo_fund.receipts.issuers import Issuer, fund_issuer, gift_date, gift_date_between, organisation_issuer
from kyodo_fund.tax.kinds import IssuerKind

HEADER = ("受入年月日", "氏名", "郵便番号", "住所", "寄附金額", "寄附先の事業", "区分")
OUTSIDE = "県外・不明"


@dataclass(frozen=True)
class RegisterRow:
    received_on: date
    name: str
    postal_code: str
    address: str
    amount_yen: int
    project: str
    note: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.received_on.isoformat(),
            self.name,
            self.postal_code,
            self.address,
            str(self.amount_yen),
            self.project,
            self.note,
        )


def fiscal_year_bounds(end_month: int | None, fiscal_year: int) -> tuple[date, date]:
    """年度 ``fiscal_year`` is named by the year it starts in: end month 3 → 1 April fiscal_year – 31 March next."""
    month = end_month or 3
    start = date(fiscal_year, 1, 1) if month == 12 else date(fiscal_year, month + 1, 1)
    return start, date(start.year + 1, start.month, 1) - timedelta(days=1)


def register_issuer(session: Session, config: Mapping[str, Any], org: Any, on_date: date) -> Issuer:
    """Whose register this is: the fund's (pass-through), or the organisation's own in direct programmes."""
    if config.get("PROGRAMME_RECIPIENT_MODEL", "fund") == "direct":
        return organisation_issuer(session, config, org, on_date)
    return fund_issuer(config)


def needs_municipal_lists(issuer: Issuer) -> bool:
    return issuer.kind == IssuerKind.JOREI_NPO


def register_rows(session: Session, org: Any, start: date, end: date) -> Iterator[RegisterRow]:
    """Gifts to the organisation's projects with 受入年月日 in [start, end], net of refunds, by date."""
    issuer = fund_issuer(current_app.config)  # only its date basis (settlement) is used here
    stmt = (
        select(Donation, Project.title, User)
        .join(Project, Project.id == Donation.project_id)
        .outerjoin(User, User.id == Donation.user_id)
        .where(
            Project.organisation_id == org.id,
            Donation.status.in_(COUNTED_STATUSES),
            Donation.amount_yen > Donation.refunded_yen,
            gift_date_between(start, end),
        )
        .order_by(Donation.received_on, Donation.paid_at, Donation.id)
        .execution_options(yield_per=500)
    )
    rows = []
    for donation, title, user in session.execute(stmt):
        day = gift_date(issuer, donation)
        amount = donation.amount_yen - donation.refunded_yen
        if donation.anonymous:
            rows.append(RegisterRow(day, "", "", "", amount, title, "匿名・募金箱等"))
            continue
        donor = donor_snapshot(donation, user)
        note = "オンライン" if donation.channel == Channel.ONLINE else "オフライン"
        rows.append(RegisterRow(day, donor.name, donor.postal_code, donor.address, amount, title, note))
    # The date basis (settlement in JST) may differ from the stored order near midnight: sort by what is printed.
    yield from sorted(rows, key=lambda r: r.received_on)


def _csv(rows: Iterator[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for cells in rows:
        # A leading =, +, - or @ would make a spreadsheet run the cell as a formula (CSV injection).
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in cells])
    return buffer.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def donor_register_csv(session: Session, org: Any, fiscal_year: int) -> bytes:
    start, end = fiscal_year_bounds(org.fiscal_year_end_month, fiscal_year)
    return _csv(row.cells() for row in register_rows(session, org, start, end))


def municipality_of(address: str) -> str:
    """The Nagano municipality an address lies in, or ``OUTSIDE``."""
    rest = (address or "").strip().removeprefix("長野県")
    for municipality in MUNICIPALITIES:
        if rest.startswith(municipality.name) or rest.startswith(municipality.district + municipality.name):
            return municipality.name
    return OUTSIDE


def municipal_list_csvs(session: Session, org: Any, year: int) -> dict[str, bytes]:
    """Calendar-year lists per donor municipality (jorei_npo issuers send each to its municipality)."""
    by_place: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for row in register_rows(session, org, date(year, 1, 1), date(year, 12, 31)):
        if row.name:  # unknown donors live nowhere
            by_place[municipality_of(row.address)].append(row.cells())
    return {place: _csv(iter(rows)) for place, rows in sorted(by_place.items())}


def record_export(session: Session, actor: Actor, org: Any, fiscal_year: int, via: str) -> None:
    record(session, actor, "receipts.donor_list_export", org, after={"fiscal_year": fiscal_year, "via": via})
