"""Gapless numbers under real concurrency (privacy-and-security.md test 16): 8 threads, separate sessions and
connections, real commits on PostgreSQL, whose row lock on the counter is what is being tested."""

from __future__ import annotations

import queue
import threading

import pytest
from sqlalchemy import func, select

from kyodo_fund.audit import SYSTEM
from kyodo_fund.donations.models import Donation
from kyodo_fund.extensions import db
from kyodo_fund.receipts.models import Receipt, ReceiptCounter
from kyodo_fund.receipts.services import issue_receipt
from tests.factories import make_donation, make_org, make_project

THREADS = 8
GIFTS = 200


@pytest.fixture
def postgres_only(is_postgres):
    if not is_postgres:
        pytest.skip(
            "SQLite serialises writers at BEGIN IMMEDIATE, so transactions never overlap and there is no race to "
            "test; run with KYODO_TEST_DATABASE_URL=postgresql+psycopg://... for the real row-lock test"
        )


def seed(session, count: int) -> list[int]:
    project = make_project(session, make_org(session))
    ids = [make_donation(session, project, amount_yen=1000 + n).id for n in range(count)]
    session.commit()
    return ids


def issue_concurrently(app, donation_ids: list[int], rollback: set[int]) -> list[BaseException]:
    """Each thread takes gifts off a shared queue and issues each in its own transaction; the gifts in
    ``rollback`` are issued (a number is taken) and then rolled back instead of committed."""
    work: queue.Queue[int] = queue.Queue()
    for donation_id in donation_ids:
        work.put(donation_id)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker() -> None:
        with app.app_context():
            session = db.session_factory()
            try:
                start.wait(timeout=10)
                while True:
                    try:
                        donation_id = work.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        issue_receipt(session, session.get(Donation, donation_id), SYSTEM)
                        if donation_id in rollback:
                            session.rollback()
                        else:
                            session.commit()
                    except BaseException as exc:
                        session.rollback()
                        errors.append(exc)
            finally:
                session.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_200_receipts_from_8_threads_are_numbered_1_to_200(app, committed_db, postgres_only):
    ids = seed(committed_db, GIFTS)
    assert issue_concurrently(app, ids, rollback=set()) == []
    rows = committed_db.execute(select(Receipt.year, Receipt.number, Receipt.donation_id)).all()
    assert sorted(number for _, number, _ in rows) == list(range(1, GIFTS + 1))
    assert sorted(donation for _, _, donation in rows) == sorted(ids)
    assert len({year for year, _, _ in rows}) == 1
    assert committed_db.scalar(select(ReceiptCounter.value)) == GIFTS


def test_rolled_back_issues_give_their_numbers_back(app, committed_db, postgres_only):
    ids = seed(committed_db, GIFTS)
    rolled_back = set(ids[5::20])
    assert len(rolled_back) == 10
    assert issue_concurrently(app, ids, rollback=rolled_back) == []
    numbers = sorted(committed_db.scalars(select(Receipt.number)))
    assert numbers == list(range(1, GIFTS - 10 + 1))  # 1..190, contiguous
    assert committed_db.scalar(select(ReceiptCounter.value)) == GIFTS - 10
    issued = set(committed_db.scalars(select(Receipt.donation_id)))
    assert issued == set(ids) - rolled_back


def test_the_same_gift_issued_from_8_threads_at_once_gets_one_number(app, committed_db, postgres_only):
    ids = seed(committed_db, 1)
    errors = issue_concurrently(app, ids * THREADS, rollback=set())
    assert committed_db.scalar(select(func.count()).select_from(Receipt)) == 1
    assert committed_db.scalar(select(Receipt.number)) == 1
    assert committed_db.scalar(select(ReceiptCounter.value)) == 1  # the losers' numbers went back
    assert len(errors) == THREADS - 1
