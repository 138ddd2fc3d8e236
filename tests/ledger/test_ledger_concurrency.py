"""Concurrent posters on PostgreSQL: separate sessions, real commits, one outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import pytest
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kyodo_fund.audit import SYSTEM
from kyodo_fund.extensions import db
from kyodo_fund.ledger.models import LedgerAccount, LedgerGroup
from kyodo_fund.ledger.services import InsufficientBalance, post_donation, post_grant, post_refund, project_balance

THREADS = 5


@pytest.fixture
def postgres_only(is_postgres):
    if not is_postgres:
        pytest.skip(
            "SQLite takes the write lock at BEGIN IMMEDIATE, so writers never overlap; "
            "run with KYODO_TEST_DATABASE_URL=postgresql+psycopg://... to test real races"
        )


def race(work: Callable[[Session, int], object]) -> list[object]:
    """Run ``work(session, n)`` in THREADS threads released together; each commits its own session."""
    barrier = threading.Barrier(THREADS)
    results: list[object] = [None] * THREADS
    # Threads start without an app context; without one the session would not know which app's
    # database to use (other tests create other apps in this process).
    app = current_app._get_current_object()

    def worker(n: int) -> None:
        with app.app_context():
            _work(n)

    def _work(n: int) -> None:
        session = db.session_factory()
        try:
            barrier.wait(timeout=10)
            results[n] = work(session, n)
            session.commit()
        except Exception as exc:  # handed to the asserting thread
            session.rollback()
            results[n] = exc
        finally:
            session.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def donate(session: Session, _n: int = 0) -> object:
    return post_donation(
        session,
        source_ref="ch_race",
        project_id=7,
        gross_yen=10_000,
        processor_fee_yen=360,
        platform_fee_pct=10,
        donation_id=1,
    )


def test_simultaneous_webhook_replays_post_one_group(app, committed_db, postgres_only):
    results = race(donate)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(isinstance(r, LedgerGroup) for r in results) == 1
    assert results.count(None) == THREADS - 1
    with db.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(LedgerGroup)) == 1
        assert session.scalar(select(func.count()).select_from(LedgerAccount)) == 4
        assert project_balance(session, 7) == 9_000


def test_simultaneous_refund_deliveries_post_one_delta(app, committed_db, postgres_only):
    with db.session_factory() as session:
        donate(session)
        session.commit()

    results = race(lambda s, _n: post_refund(s, source_ref="ch_race:refunded:3000", donation_id=1, refund_yen=3_000))

    assert sum(isinstance(r, LedgerGroup) for r in results) == 1
    assert results.count(None) == THREADS - 1
    with db.session_factory() as session:
        assert project_balance(session, 7) == 6_300


def test_simultaneous_grants_never_overdraw_the_project(app, committed_db, postgres_only):
    with db.session_factory() as session:
        donate(session)
        session.commit()

    def grant(session: Session, n: int) -> object:
        return post_grant(
            session,
            project_id=7,
            org_id=3,
            amount_yen=3_000,
            paid_on=date(2025, 4, 1),
            bank_reference=f"B{n}",
            actor=SYSTEM,
        )

    results = race(grant)

    assert sum(isinstance(r, LedgerGroup) for r in results) == 3
    assert sum(isinstance(r, InsufficientBalance) for r in results) == 2
    with db.session_factory() as session:
        assert project_balance(session, 7) == 0
