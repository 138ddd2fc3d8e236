"""Ledger tables: accounts, transaction groups and their entries.

Sign convention: ``amount_yen > 0`` is a **debit**, ``amount_yen < 0`` a **credit**; every group sums
to zero. Asset and expense accounts grow with debits (their balance is positive), liability and
revenue accounts grow with credits (their raw balance is negative; ``AccountKind.normal_sign`` flips it
for display, so a project fund holding ¥9,000 shows 9,000).

Chart of accounts (``account_spec`` knows every key; anything else is refused):

=======================  =========  ===========================================================
key                      kind       what its balance means
=======================  =========  ===========================================================
``stripe:clearing``      asset      money received through Stripe, net of Stripe's fees, refunds
                                    and lost disputes (payouts to the bank are not modelled)
``bank:deposits``        asset      gifts received outside Stripe (bank transfer, cash), net of
                                    their refunds
``grants:paid:<org>``    asset      cash sent to organisation ``<org>`` by bank transfer; always
                                    ≤ 0 (a per-payee cash-out account), −balance = total granted
``fund:project:<id>``    liability  what the fund still owes project ``<id>``: its grantable money
``fund:general``         liability  the same for gifts not designated to a project
``disputes:held``        liability  money under an open dispute, kept out of every fund
``fees:platform``        revenue    the platform fee (``PLATFORM_FEE_PCT`` of gross, floored)
``fees:processor``       expense    Stripe's actual processing fee on gifts the fund keeps
``fees:dispute``         expense    Stripe's dispute fees (borne by the fund)
``refunds:loss``         expense    what refunds and lost disputes cost the fund: processor fees
                                    Stripe kept, and any share a project could no longer repay
=======================  =========  ===========================================================

The asset accounts together are the fund's cash: what came in, less what went back to donors and
out to organisations. Worked examples with numbers live in ``kyodo_fund.ledger.services``.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyodo_fund.db import Base, StrEnumType, utcnow


class AccountKind(enum.StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def normal_sign(self) -> int:
        """Multiply a raw (debit-positive) balance by this to read it the way the account grows."""
        return 1 if self in (AccountKind.ASSET, AccountKind.EXPENSE) else -1


class LedgerGroupKind(enum.StrEnum):
    DONATION = "donation"
    REFUND = "refund"
    DISPUTE_HOLD = "dispute_hold"
    DISPUTE_RELEASE = "dispute_release"
    DISPUTE_REVERSE = "dispute_reverse"
    GRANT = "grant"
    FEE_ADJUSTMENT = "fee_adjustment"


STRIPE_CLEARING = "stripe:clearing"
BANK_DEPOSITS = "bank:deposits"
FUND_GENERAL = "fund:general"
FEES_PLATFORM = "fees:platform"
FEES_PROCESSOR = "fees:processor"
FEES_DISPUTE = "fees:dispute"
DISPUTES_HELD = "disputes:held"
REFUNDS_LOSS = "refunds:loss"
#: Where a gift's money can arrive; its refunds leave from the same account.
CASH_ACCOUNTS = (STRIPE_CLEARING, BANK_DEPOSITS)

#: Labels are Japanese source text; screens may translate them by key.
_FIXED_ACCOUNTS: dict[str, tuple[AccountKind, str]] = {
    STRIPE_CLEARING: (AccountKind.ASSET, "Stripe 決済残高"),
    BANK_DEPOSITS: (AccountKind.ASSET, "銀行預金（Stripe 以外の寄附）"),
    FUND_GENERAL: (AccountKind.LIABILITY, "一般寄附基金"),
    DISPUTES_HELD: (AccountKind.LIABILITY, "チャージバック保留"),
    FEES_PLATFORM: (AccountKind.REVENUE, "運営費（プラットフォーム手数料）"),
    FEES_PROCESSOR: (AccountKind.EXPENSE, "決済手数料"),
    FEES_DISPUTE: (AccountKind.EXPENSE, "チャージバック手数料"),
    REFUNDS_LOSS: (AccountKind.EXPENSE, "返金・チャージバック損失"),
}
_PER_ID_ACCOUNTS: dict[str, tuple[AccountKind, str]] = {
    "fund:project:": (AccountKind.LIABILITY, "事業指定寄附基金（事業 {id}）"),
    "grants:paid:": (AccountKind.ASSET, "助成金支払（団体 {id}）"),
}
_ID = re.compile(r"^[1-9][0-9]{0,17}$")


class UnknownAccount(ValueError):
    """The key is not in the chart of accounts."""


def account_spec(key: str) -> tuple[AccountKind, str]:
    """``(kind, label)`` for a key of the chart of accounts; raises ``UnknownAccount`` otherwise."""
    if key in _FIXED_ACCOUNTS:
        return _FIXED_ACCOUNTS[key]
    for prefix, (kind, label) in _PER_ID_ACCOUNTS.items():
        suffix = key.removeprefix(prefix)
        if suffix != key and _ID.match(suffix):
            return kind, label.format(id=suffix)
    raise UnknownAccount(key)


def fund_key(project_id: int | None) -> str:
    """The fund account of a project, or the general fund for undesignated gifts."""
    return FUND_GENERAL if project_id is None else f"fund:project:{int(project_id)}"


def grants_key(org_id: int) -> str:
    return f"grants:paid:{int(org_id)}"


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable business key (``fund:project:12``); other packages name accounts only by this.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[AccountKind] = mapped_column(StrEnumType(AccountKind))
    label: Mapped[str] = mapped_column(String(120))


class LedgerGroup(Base):
    """One business event (a gift, a refund delta, a dispute step, a grant): entries summing to zero."""

    __tablename__ = "ledger_groups"
    __table_args__ = (
        # The business-key guard: a replayed webhook can never post the same event twice.
        UniqueConstraint("source_ref", "kind"),
        # Refunds and disputes find their gift by donation id, so there must be only one.
        Index(
            "uq_ledger_groups_donation_group",
            "donation_id",
            unique=True,
            postgresql_where=text("kind = 'donation'"),
            sqlite_where=text("kind = 'donation'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[LedgerGroupKind] = mapped_column(StrEnumType(LedgerGroupKind))
    #: The external id the event came from: Stripe charge / refund / dispute id, invoice id,
    #: ``offline:<id>``, or ``bank:<reference>:<fund key>`` for grants.
    source_ref: Mapped[str] = mapped_column(String(255))
    #: Will reference donations.id once the donations package exists (no FK yet; the ledger
    #: must not import it).
    donation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    #: When the money moved (Stripe's timestamp, or 12:00 JST of a grant's payment date).
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    memo: Mapped[str | None] = mapped_column(Text)
    #: No ON DELETE action: users are anonymised, never deleted, and ledger rows never change.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    entries: Mapped[list[LedgerEntry]] = relationship(back_populates="group", order_by="LedgerEntry.id")


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount_yen <> 0", name="amount_yen_nonzero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("ledger_groups.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    #: Debit positive, credit negative.
    amount_yen: Mapped[int] = mapped_column(Integer)

    group: Mapped[LedgerGroup] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship()


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(LedgerGroup, "before_update")
@event.listens_for(LedgerGroup, "before_delete")
@event.listens_for(LedgerEntry, "before_update")
@event.listens_for(LedgerEntry, "before_delete")
@event.listens_for(LedgerAccount, "before_delete")
def _refuse_change(_mapper, _conn, target):
    # Corrections are new groups; POSTGRES_APPEND_ONLY_SQL enforces the same for SQL outside the ORM.
    raise AppendOnlyError(f"{type(target).__name__} {target.id} is append-only")


@event.listens_for(LedgerAccount, "before_update")
def _refuse_rekeying(_mapper, _conn, target):
    # Labels may be reworded; a changed key or kind would silently rewrite every balance.
    state = inspect(target)
    if state.attrs.key.history.has_changes() or state.attrs.kind.history.has_changes():
        raise AppendOnlyError(f"ledger account {target.id}: key and kind never change")


#: For the migration (``op.execute(POSTGRES_APPEND_ONLY_SQL)``): refuses UPDATE and DELETE on groups
#: and entries, and re-keying or deleting accounts, whoever issues the SQL. TRUNCATE is left to DBAs.
#: No ``%`` and no ``:name`` in it, so it passes unchanged through ``text()`` and DB-API drivers.
POSTGRES_APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'ledger is append-only: ' || TG_OP || ' on ' || TG_TABLE_NAME || ' refused';
END;
$$;

CREATE TRIGGER ledger_groups_append_only
    BEFORE UPDATE OR DELETE ON ledger_groups
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

CREATE TRIGGER ledger_accounts_keep_identity
    BEFORE UPDATE OF key, kind OR DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
"""

#: For the migration's downgrade.
POSTGRES_APPEND_ONLY_DROP_SQL = """
DROP TRIGGER IF EXISTS ledger_accounts_keep_identity ON ledger_accounts;
DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries;
DROP TRIGGER IF EXISTS ledger_groups_append_only ON ledger_groups;
DROP FUNCTION IF EXISTS ledger_refuse_change();
"""
