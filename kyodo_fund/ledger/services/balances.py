"""Reading the ledger: balances (one SQL SUM each) and a fund's statement with its running balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyodo_fund.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup, LedgerGroupKind, account_spec, fund_key


def balance(session: Session, account_key: str) -> int:
    """Raw balance, debit positive (0 for an account nothing was posted to)."""
    stmt = (
        select(func.coalesce(func.sum(LedgerEntry.amount_yen), 0))
        .join(LedgerEntry.account)
        .where(LedgerAccount.key == account_key)
    )
    return int(session.scalar(stmt))


def natural_balance(session: Session, account_key: str) -> int:
    """Balance read the way the account grows: a project fund holding ¥9,000 gives 9,000."""
    kind, _label = account_spec(account_key)
    return kind.normal_sign * balance(session, account_key)


def project_balance(session: Session, project_id: int | None) -> int:
    """What can still be granted from the project's fund (the general fund for ``None``)."""
    return natural_balance(session, fund_key(project_id))


def balances(session: Session, prefix: str) -> dict[str, int]:
    """Raw balances of every account whose key starts with ``prefix``, in one query."""
    stmt = (
        select(LedgerAccount.key, func.coalesce(func.sum(LedgerEntry.amount_yen), 0))
        .outerjoin(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
        .where(LedgerAccount.key.startswith(prefix, autoescape=True))
        .group_by(LedgerAccount.key)
    )
    return {key: int(total) for key, total in session.execute(stmt)}


def lock_available(session: Session, account_key: str) -> int:
    """The account's balance read the way it grows, with its row locked against concurrent grants and refunds."""
    session.scalar(select(LedgerAccount.id).where(LedgerAccount.key == account_key).with_for_update())
    return natural_balance(session, account_key)


@dataclass(frozen=True)
class StatementLine:
    group_id: int
    kind: LedgerGroupKind
    source_ref: str
    occurred_at: datetime
    memo: str | None
    donation_id: int | None
    #: Money in is positive (a gift), money out negative (a refund, a grant).
    amount_yen: int
    balance_yen: int


def project_statement(session: Session, project_id: int | None) -> list[StatementLine]:
    """Every movement of the project's fund, oldest first, with the running balance after it."""
    order = (LedgerGroup.occurred_at, LedgerGroup.id, LedgerEntry.id)
    running = func.sum(-LedgerEntry.amount_yen).over(order_by=order)
    stmt = (
        select(
            LedgerGroup.id,
            LedgerGroup.kind,
            LedgerGroup.source_ref,
            LedgerGroup.occurred_at,
            LedgerGroup.memo,
            LedgerGroup.donation_id,
            -LedgerEntry.amount_yen,
            running,
        )
        .join(LedgerEntry.group)
        .join(LedgerEntry.account)
        .where(LedgerAccount.key == fund_key(project_id))
        .order_by(*order)
    )
    return [StatementLine(*row[:6], int(row[6]), int(row[7])) for row in session.execute(stmt)]
