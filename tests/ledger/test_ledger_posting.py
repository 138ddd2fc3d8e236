"""post_group's validation and replay guard, and the append-only guarantees (ORM, constraints, trigger)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from kyodo_fund.audit import Actor
from kyodo_fund.db import utcnow
from kyodo_fund.ledger.models import (
    POSTGRES_APPEND_ONLY_SQL,
    AccountKind,
    AppendOnlyError,
    LedgerAccount,
    LedgerEntry,
    LedgerGroup,
    LedgerGroupKind,
)
from kyodo_fund.ledger.services import (
    LedgerError,
    UnbalancedGroup,
    UnknownAccount,
    balance,
    post_donation,
    post_group,
)
from tests.factories import make_user


def group_count(session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerGroup))


def donate(session, donation_id: int = 1) -> LedgerGroup:
    return post_donation(
        session,
        source_ref=f"ch_{donation_id}",
        project_id=7,
        gross_yen=10_000,
        processor_fee_yen=360,
        platform_fee_pct=10,
        donation_id=donation_id,
    )


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([("stripe:clearing", 100), ("fund:general", -99)], UnbalancedGroup),
        ([("stripe:clearing", 100), ("fund:general", -100), ("fees:platform", 0)], UnbalancedGroup),
        ([("stripe:clearing", True), ("fund:general", -1)], UnbalancedGroup),
        ([("stripe:clearing", 100.0), ("fund:general", -100.0)], UnbalancedGroup),
        ([("stripe:clearing", "100"), ("fund:general", "-100")], UnbalancedGroup),
        ([], UnbalancedGroup),
        ([("cash:box", 100), ("fund:general", -100)], UnknownAccount),
        ([("fund:project:abc", 100), ("fund:general", -100)], UnknownAccount),
        ([("fund:project:0", 100), ("fund:general", -100)], UnknownAccount),
        ([("grants:paid:-1", 100), ("fund:general", -100)], UnknownAccount),
    ],
)
def test_post_group_refuses_bad_lines_and_writes_nothing(db_session, lines, error):
    with pytest.raises(error):
        post_group(db_session, LedgerGroupKind.FEE_ADJUSTMENT, "adj_1", lines)
    assert group_count(db_session) == 0
    assert db_session.scalar(select(func.count()).select_from(LedgerAccount)) == 0


@pytest.mark.parametrize("source_ref", ["", "x" * 256])
def test_post_group_needs_a_source_ref(db_session, source_ref):
    with pytest.raises(LedgerError):
        post_group(db_session, "fee_adjustment", source_ref, [("stripe:clearing", 1), ("fees:processor", -1)])


def test_replaying_source_ref_and_kind_posts_one_group(db_session):
    first = post_group(db_session, "fee_adjustment", "txn_1", [("fees:processor", 5), ("stripe:clearing", -5)])
    again = post_group(db_session, "fee_adjustment", "txn_1", [("fees:processor", 7), ("stripe:clearing", -7)])

    assert isinstance(first, LedgerGroup)
    assert again is None
    assert group_count(db_session) == 1
    assert balance(db_session, "fees:processor") == 5


def test_same_source_ref_under_another_kind_is_another_event(db_session):
    donate(db_session)
    adjustment = post_group(db_session, "fee_adjustment", "ch_1", [("fees:processor", 4), ("stripe:clearing", -4)])

    assert adjustment is not None
    assert group_count(db_session) == 2


def test_accounts_are_created_once_from_the_chart(db_session):
    donate(db_session, 1)
    donate(db_session, 2)

    accounts = {a.key: a for a in db_session.scalars(select(LedgerAccount))}
    assert set(accounts) == {"stripe:clearing", "fees:processor", "fees:platform", "fund:project:7"}
    assert accounts["fund:project:7"].kind is AccountKind.LIABILITY
    assert "7" in accounts["fund:project:7"].label
    assert accounts["fees:platform"].kind is AccountKind.REVENUE
    assert accounts["stripe:clearing"].kind is AccountKind.ASSET


def test_group_records_who_and_when(db_session):
    user = make_user(db_session)
    before = utcnow()
    group = post_group(
        db_session, "fee_adjustment", "adj_9", [("fees:processor", 1), ("stripe:clearing", -1)], actor=Actor(user)
    )
    assert group.created_by_id == user.id
    assert group.occurred_at >= before
    assert group.created_at.tzinfo is not None


@pytest.mark.parametrize(
    "change",
    [
        lambda s, g: setattr(g, "memo", "書き換え"),
        lambda s, g: setattr(g.entries[0], "amount_yen", 1),
        lambda s, g: s.delete(g.entries[0]),
        lambda s, g: s.delete(g),
        lambda s, g: setattr(g.entries[0].account, "key", "fund:general"),
        lambda s, g: s.delete(g.entries[0].account),
    ],
    ids=["group memo", "entry amount", "delete entry", "delete group", "account key", "delete account"],
)
def test_orm_refuses_to_change_the_ledger(db_session, change):
    group = donate(db_session)
    change(db_session, group)
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()


def test_account_labels_may_be_reworded(db_session):
    group = donate(db_session)
    account = group.entries[0].account
    account.label = "新しい名称"
    db_session.flush()
    db_session.expire_all()
    assert db_session.get(LedgerAccount, account.id).label == "新しい名称"


def test_database_refuses_a_zero_entry(db_session):
    group = donate(db_session)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(
            insert(LedgerEntry).values(group_id=group.id, account_id=group.entries[0].account_id, amount_yen=0)
        )


def test_database_refuses_a_second_group_for_the_same_event(db_session):
    donate(db_session)
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(
            insert(LedgerGroup).values(kind="donation", source_ref="ch_1", occurred_at=utcnow(), created_at=utcnow())
        )


def test_database_allows_one_donation_group_per_donation(db_session):
    donate(db_session, donation_id=5)
    row = {"source_ref": "ch_other", "donation_id": 5, "occurred_at": utcnow(), "created_at": utcnow()}
    db_session.execute(insert(LedgerGroup).values(kind="refund", **row))
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.execute(insert(LedgerGroup).values(kind="donation", **row))
    with pytest.raises(LedgerError, match="already posted"):
        post_donation(
            db_session,
            source_ref="ch_5b",
            project_id=7,
            gross_yen=1000,
            processor_fee_yen=36,
            platform_fee_pct=10,
            donation_id=5,
        )


def test_postgres_trigger_refuses_update_and_delete(db_session, is_postgres):
    if not is_postgres:
        pytest.skip("the append-only trigger is PostgreSQL SQL; SQLite relies on the ORM listeners")
    # As the migration will run it (op.execute wraps it in text()). DDL is transactional in PostgreSQL,
    # so the fixture's rollback removes the trigger again.
    db_session.execute(text(POSTGRES_APPEND_ONLY_SQL))
    group = donate(db_session)
    refused = [
        "UPDATE ledger_entries SET amount_yen = 1 WHERE group_id = :g",
        "DELETE FROM ledger_entries WHERE group_id = :g",
        "UPDATE ledger_groups SET memo = 'x' WHERE id = :g",
        "DELETE FROM ledger_groups WHERE id = :g",
        "UPDATE ledger_accounts SET key = 'fund:general' WHERE key = 'fund:project:7' AND :g > 0",
        "DELETE FROM ledger_accounts WHERE key = 'fees:platform' AND :g > 0",
    ]
    for sql in refused:
        with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
            db_session.execute(text(sql), {"g": group.id})
    db_session.execute(text("UPDATE ledger_accounts SET label = '運営費' WHERE key = 'fees:platform'"))
    assert balance(db_session, "fund:project:7") == -9_000
