"""Grants: the fund pays an organisation from a project's fund; the organisation's statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup, fund_key, grants_key
from kyodo_fund.ledger.models import LedgerGroupKind as Kind
from kyodo_fund.ledger.services.balances import lock_available
from kyodo_fund.ledger.services.posting import InsufficientBalance, LedgerError, group_exists, post_group, require_yen

JST = ZoneInfo("Asia/Tokyo")


def post_grant(
    session: Session,
    *,
    project_id: int | None,
    org_id: int,
    amount_yen: int,
    paid_on: date,
    bank_reference: str,
    actor: Actor,
    memo: str | None = None,
) -> LedgerGroup | None:
    """Record a bank transfer paid to an organisation from a project's fund (``None``: the general fund).

    Raises ``InsufficientBalance`` above the fund's balance. Recording the same bank reference for the
    same fund twice posts nothing the second time (returns None).
    """
    require_yen("amount_yen", amount_yen, minimum=1)
    bank_reference = bank_reference.strip()
    if not bank_reference:
        raise LedgerError("a grant needs the bank transfer's reference")
    fund = fund_key(project_id)
    source_ref = f"bank:{bank_reference}:{fund}"
    available = lock_available(session, fund)
    if group_exists(session, source_ref, Kind.GRANT):
        return None
    if amount_yen > available:
        raise InsufficientBalance(fund, available, amount_yen)
    # Noon JST, so the UTC and the Japanese calendar date agree.
    occurred_at = datetime.combine(paid_on, time(12), tzinfo=JST)
    lines = [(fund, amount_yen), (grants_key(org_id), -amount_yen)]
    group = post_group(session, Kind.GRANT, source_ref, lines, occurred_at=occurred_at, memo=memo, actor=actor)
    if group is not None:
        after = {
            "fund": fund,
            "org_id": org_id,
            "amount_yen": amount_yen,
            "paid_on": paid_on.isoformat(),
            "bank_reference": bank_reference,
        }
        record(session, actor, "ledger.grant", group, after=after)
    return group


@dataclass(frozen=True)
class GrantLine:
    group_id: int
    paid_on: date
    #: None when paid from the general fund.
    project_id: int | None
    amount_yen: int
    bank_reference: str
    memo: str | None


def org_grants(session: Session, org_id: int) -> list[GrantLine]:
    """The organisation's statement: every grant paid to it, oldest first."""
    paid, fund_entry, fund_account = aliased(LedgerEntry), aliased(LedgerEntry), aliased(LedgerAccount)
    stmt = (
        select(LedgerGroup, -paid.amount_yen, fund_account.key)
        .join(paid, paid.group_id == LedgerGroup.id)
        .join(LedgerAccount, LedgerAccount.id == paid.account_id)
        .join(fund_entry, and_(fund_entry.group_id == LedgerGroup.id, fund_entry.id != paid.id))
        .join(fund_account, fund_account.id == fund_entry.account_id)
        .where(LedgerAccount.key == grants_key(org_id), LedgerGroup.kind == Kind.GRANT)
        .order_by(LedgerGroup.occurred_at, LedgerGroup.id)
    )
    out = []
    for group, amount, fund in session.execute(stmt):
        project = fund.removeprefix("fund:project:")
        out.append(
            GrantLine(
                group_id=group.id,
                paid_on=group.occurred_at.astimezone(JST).date(),
                project_id=int(project) if project != fund else None,
                amount_yen=int(amount),
                bank_reference=group.source_ref.removeprefix("bank:").removesuffix(f":{fund}"),
                memo=group.memo,
            )
        )
    return out
