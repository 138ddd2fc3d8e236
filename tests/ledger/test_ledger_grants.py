"""Grants from a project's fund, the organisation's statement, the project statement and balance queries."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, func, select

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.ledger.models import LedgerGroup
from kyodo_fund.ledger.services import (
    GrantLine,
    InsufficientBalance,
    LedgerError,
    balances,
    org_grants,
    post_donation,
    post_grant,
    post_refund,
    project_balance,
    project_statement,
)
from tests.factories import make_user


@pytest.fixture
def admin(db_session):
    return Actor(make_user(db_session, "admin@example.jp"), ip="192.0.2.1")


def donate(session, donation_id, gross, project_id=7, occurred_at=None):
    return post_donation(
        session,
        source_ref=f"ch_{donation_id}",
        project_id=project_id,
        gross_yen=gross,
        processor_fee_yen=gross * 36 // 1000,
        platform_fee_pct=10,
        donation_id=donation_id,
        occurred_at=occurred_at,
    )


def grant(session, actor, amount, *, ref="MUFG-0001", project_id=7, org_id=3, paid_on=date(2025, 4, 10)):
    return post_grant(
        session,
        project_id=project_id,
        org_id=org_id,
        amount_yen=amount,
        paid_on=paid_on,
        bank_reference=ref,
        actor=actor,
        memo="第1回助成",
    )


def test_grant_moves_the_projects_money_to_the_organisation(db_session, admin):
    donate(db_session, 1, 10_000)

    group = grant(db_session, admin, 9_000)

    assert sorted((e.account.key, e.amount_yen) for e in group.entries) == [
        ("fund:project:7", 9_000),
        ("grants:paid:3", -9_000),
    ]
    assert project_balance(db_session, 7) == 0
    assert group.created_by_id == admin.user.id
    assert org_grants(db_session, 3) == [GrantLine(group.id, date(2025, 4, 10), 7, 9_000, "MUFG-0001", "第1回助成")]
    audit = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "ledger.grant")).one()
    assert audit.object_id == str(group.id)
    assert audit.after["amount_yen"] == 9_000 and audit.after["bank_reference"] == "MUFG-0001"


def test_grant_beyond_the_balance_is_refused(db_session, admin):
    donate(db_session, 1, 10_000)

    with pytest.raises(InsufficientBalance) as refused:
        grant(db_session, admin, 9_001)
    assert refused.value.available_yen == 9_000
    with pytest.raises(InsufficientBalance) as empty:
        grant(db_session, admin, 1, project_id=8)
    assert empty.value.available_yen == 0

    grant(db_session, admin, 6_000)
    with pytest.raises(InsufficientBalance):
        grant(db_session, admin, 3_001, ref="MUFG-0002")
    assert grant(db_session, admin, 3_000, ref="MUFG-0002") is not None
    assert project_balance(db_session, 7) == 0


def test_grant_refused_once_refunds_took_the_money_back(db_session, admin):
    donate(db_session, 1, 10_000)
    post_refund(db_session, source_ref="re_1", donation_id=1, refund_yen=5_000)
    with pytest.raises(InsufficientBalance) as refused:
        grant(db_session, admin, 9_000)
    assert refused.value.available_yen == 4_500


def test_recording_the_same_bank_transfer_twice_posts_once(db_session, admin):
    donate(db_session, 1, 10_000)
    assert grant(db_session, admin, 4_000) is not None
    assert grant(db_session, admin, 4_000) is None
    assert project_balance(db_session, 7) == 5_000
    assert db_session.scalar(select(func.count()).where(LedgerGroup.kind == "grant")) == 1


@pytest.mark.parametrize(("amount", "ref"), [(0, "B1"), (-5, "B1"), (1.5, "B1"), (100, "  ")])
def test_grant_needs_a_positive_amount_and_a_bank_reference(db_session, admin, amount, ref):
    donate(db_session, 1, 10_000)
    with pytest.raises(LedgerError):
        grant(db_session, admin, amount, ref=ref)


def test_organisation_statement_lists_its_grants_from_every_fund(db_session, admin):
    donate(db_session, 1, 10_000, project_id=7)
    donate(db_session, 2, 20_000, project_id=None)
    donate(db_session, 3, 5_000, project_id=8)
    later = grant(db_session, admin, 2_000, ref="B:2", paid_on=date(2025, 6, 1))
    earlier = grant(db_session, admin, 18_000, ref="B:1", project_id=None, paid_on=date(2025, 5, 1))
    grant(db_session, admin, 4_500, ref="B:3", project_id=8, org_id=4)

    statement = org_grants(db_session, 3)

    assert [(g.group_id, g.paid_on, g.project_id, g.amount_yen, g.bank_reference) for g in statement] == [
        (earlier.id, date(2025, 5, 1), None, 18_000, "B:1"),
        (later.id, date(2025, 6, 1), 7, 2_000, "B:2"),
    ]
    assert [g.amount_yen for g in org_grants(db_session, 4)] == [4_500]
    assert org_grants(db_session, 5) == []


def test_project_statement_has_a_running_balance(db_session, admin):
    at = [datetime(2025, 4, day, 3, tzinfo=UTC) for day in (1, 2, 3)]
    donate(db_session, 1, 10_000, occurred_at=at[0])
    donate(db_session, 2, 5_000, occurred_at=at[1])
    donate(db_session, 3, 7_000, project_id=8, occurred_at=at[1])
    post_refund(db_session, source_ref="re_1", donation_id=1, refund_yen=3_000, occurred_at=at[2])
    grant(db_session, admin, 4_000, paid_on=date(2025, 4, 20))

    statement = project_statement(db_session, 7)

    assert [(s.kind, s.amount_yen, s.balance_yen) for s in statement] == [
        ("donation", 9_000, 9_000),
        ("donation", 4_500, 13_500),
        ("refund", -2_700, 10_800),
        ("grant", -4_000, 6_800),
    ]
    assert statement[-1].balance_yen == project_balance(db_session, 7)
    assert statement[0].donation_id == 1 and statement[0].occurred_at == at[0]


def test_balances_by_prefix_in_one_query(db_session):
    donate(db_session, 1, 10_000, project_id=7)
    donate(db_session, 2, 5_000, project_id=8)
    queries = []
    connection = db_session.connection()
    event.listen(connection, "before_cursor_execute", lambda *args: queries.append(args[2]))

    funds = balances(db_session, "fund:project:")

    assert funds == {"fund:project:7": -9_000, "fund:project:8": -4_500}
    assert len(queries) == 1
    assert balances(db_session, "fund_") == {}  # LIKE wildcards are escaped
    assert set(balances(db_session, "fees:")) == {"fees:platform", "fees:processor"}
