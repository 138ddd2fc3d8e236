"""Property test: random histories of gifts, refunds, disputes and grants keep the books balanced and
every fund at what the documented rule says, computed here independently of the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import partial

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kyodo_fund.audit import SYSTEM
from kyodo_fund.ledger.models import LedgerEntry
from kyodo_fund.ledger.services import (
    balances,
    post_dispute_hold,
    post_dispute_release,
    post_dispute_reverse,
    post_donation,
    post_grant,
    post_refund,
)

PROJECTS = (1, 2, None)
PCTS = (0, 10, 15)

donation = st.tuples(
    st.just("donate"),
    st.sampled_from(PROJECTS),
    st.integers(1_000, 300_000),
    st.integers(0, 1_000),
    st.sampled_from(PCTS),
    st.sampled_from(("stripe:clearing", "bank:deposits")),
)
operation = st.one_of(
    donation,
    st.tuples(st.just("refund"), st.integers(0, 50), st.integers(1, 1_000)),
    st.tuples(st.just("dispute"), st.integers(0, 50), st.integers(1, 1_000)),
    st.tuples(st.just("close"), st.integers(0, 50), st.booleans(), st.sampled_from((0, 1_500))),
    st.tuples(st.just("grant"), st.sampled_from(PROJECTS), st.integers(1, 2), st.integers(1, 1_000)),
    st.tuples(st.just("replay")),
)


@dataclass
class Gift:
    donation_id: int
    fund: str
    cash: str
    gross: int
    net: int
    fee: int
    reversed: int = 0  # refunded + disputed (open or lost)
    fee_kept: int = 0
    #: (dispute ref, held, project part, shortfall, platform part) while a dispute is open.
    dispute: tuple | None = None
    disputed_once: bool = False


@dataclass
class Books:
    """The expected raw balances (debit positive), kept with plain integer arithmetic."""

    accounts: dict[str, int] = field(default_factory=dict)

    def post(self, *lines: tuple[str, int]) -> None:
        for key, amount in lines:
            self.accounts[key] = self.accounts.get(key, 0) + amount

    def held_by(self, fund: str) -> int:
        return -self.accounts.get(fund, 0)


def fund_of(project) -> str:
    return "fund:general" if project is None else f"fund:project:{project}"


def give_back(books: Books, gift: Gift, amount: int) -> tuple[int, int, int]:
    """The documented split: project share floor(net × R / G) cumulative, capped at what it holds."""
    due = gift.net * (gift.reversed + amount) // gift.gross - gift.net * gift.reversed // gift.gross
    project = min(due, books.held_by(gift.fund))
    return project, due - project, amount - due


def keep_fee(gift: Gift) -> int:
    """Stripe's fee on the reversed part, floor(fee × R / G) cumulative, becomes the fund's loss."""
    fee = gift.fee * gift.reversed // gift.gross - gift.fee_kept
    gift.fee_kept += fee
    return fee


def apply(session, books: Books, gifts: list[Gift], n: int, op: tuple) -> partial | None:
    """Post ``op`` if it is possible now, book its expected effect; returns the call, for replays."""
    gift = gifts[op[1] % len(gifts)] if op[0] in ("refund", "dispute", "close") else None
    match op:
        case ("donate", project, gross, fee_permille, pct, cash):
            platform = gross * pct // 100
            fee = gross * fee_permille // 1_000 if cash == "stripe:clearing" else 0
            gift = Gift(len(gifts) + 1, fund_of(project), cash, gross, gross - platform, fee)
            gifts.append(gift)
            books.post((cash, gross - gift.fee), ("fees:processor", gift.fee))
            books.post(("fees:platform", -platform), (gift.fund, -gift.net))
            return partial(
                post_donation,
                session,
                source_ref=f"ch_{gift.donation_id}",
                project_id=project,
                gross_yen=gross,
                processor_fee_yen=gift.fee,
                platform_fee_pct=pct,
                donation_id=gift.donation_id,
                received_into=cash,
            )
        case ("refund", _, permille):
            amount = (gift.gross - gift.reversed) * permille // 1_000
            if gift.dispute or amount == 0:
                return None
            project, shortfall, platform = give_back(books, gift, amount)
            gift.reversed += amount
            fee = keep_fee(gift)
            books.post((gift.cash, -amount), (gift.fund, project), ("fees:platform", platform))
            books.post(("fees:processor", -fee), ("refunds:loss", fee + shortfall))
            return partial(post_refund, session, source_ref=f"re_{n}", donation_id=gift.donation_id, refund_yen=amount)
        case ("dispute", _, permille):
            amount = (gift.gross - gift.reversed) * permille // 1_000
            if gift.dispute or gift.disputed_once or amount == 0:
                return None
            project, shortfall, platform = give_back(books, gift, amount)
            gift.reversed += amount
            gift.dispute, gift.disputed_once = (f"dp_{n}", amount, project, shortfall, platform), True
            books.post(("disputes:held", -amount), (gift.fund, project), ("fees:platform", platform))
            books.post(("refunds:loss", shortfall))
            return partial(
                post_dispute_hold, session, dispute_ref=f"dp_{n}", donation_id=gift.donation_id, amount_yen=amount
            )
        case ("close", _, won, dispute_fee):
            if not gift.dispute:
                return None
            ref, held, project, shortfall, platform = gift.dispute
            gift.dispute = None
            if won:
                gift.reversed -= held
                books.post(("disputes:held", held), (gift.fund, -project), ("fees:platform", -platform))
                books.post(("refunds:loss", -shortfall))
                books.post((gift.cash, -dispute_fee), ("fees:dispute", dispute_fee))
                return partial(post_dispute_release, session, dispute_ref=ref, dispute_fee_yen=dispute_fee)
            fee = keep_fee(gift)
            books.post(("disputes:held", held), (gift.cash, -held - dispute_fee), ("fees:dispute", dispute_fee))
            books.post(("fees:processor", -fee), ("refunds:loss", fee))
            return partial(post_dispute_reverse, session, dispute_ref=ref, dispute_fee_yen=dispute_fee)
        case ("grant", project, org, permille):
            fund = fund_of(project)
            amount = books.held_by(fund) * permille // 1_000
            if amount == 0:
                return None
            books.post((fund, amount), (f"grants:paid:{org}", -amount))
            return partial(
                post_grant,
                session,
                project_id=project,
                org_id=org,
                amount_yen=amount,
                paid_on=date(2025, 4, 1),
                bank_reference=f"B{n}",
                actor=SYSTEM,
            )
    raise AssertionError(op)


def run(session, ops: list[tuple]) -> None:
    books, gifts, last = Books(), [], None
    for n, op in enumerate(ops):
        if op == ("replay",):
            # A webhook delivered twice: same (source_ref, kind), nothing new is posted.
            if last is not None:
                assert last() is None
                event("replayed")
            continue
        call = apply(session, books, gifts, n, op)
        if call is None:
            continue
        assert call() is not None
        last = call
        event(f"posted {op[0]}")
        funds = balances(session, "fund:")
        assert all(amount <= 0 for amount in funds.values()), funds  # no fund is ever owed money
        expected = {k: v for k, v in books.accounts.items() if k.startswith("fund:") and v}
        assert {k: v for k, v in funds.items() if v} == expected

    actual = {k: v for k, v in balances(session, "").items() if v}
    assert actual == {k: v for k, v in books.accounts.items() if v}
    unbalanced = session.execute(
        select(LedgerEntry.group_id).group_by(LedgerEntry.group_id).having(func.sum(LedgerEntry.amount_yen) != 0)
    ).all()
    assert unbalanced == []
    assert session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_yen), 0))) == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=donation, ops=st.lists(operation, min_size=4, max_size=25))
def test_random_histories_keep_the_books_balanced(db_session, first, ops):
    savepoint = db_session.begin_nested()
    try:
        run(db_session, [first, *ops])
    finally:
        savepoint.rollback()
        # Objects reloaded inside the savepoint are only expired by its rollback, and SQLite reuses
        # their ids in the next example; start each example with an empty identity map.
        db_session.expunge_all()
