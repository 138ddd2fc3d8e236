"""Read-only worker processes (``jobs.workers``): they read what the caller committed, cannot write, and on
SQLite read beside a caller that holds the write lock."""

from __future__ import annotations

from sqlalchemy import func, select, text

from kyodo_fund.accounts.models import User
from kyodo_fund.extensions import db
from kyodo_fund.jobs.workers import in_app, portable_settings, read_only_pool
from tests.factories import make_user


def count_users() -> int:
    return db.session.scalar(select(func.count(User.id)))


def try_to_write() -> str:
    try:
        db.session.execute(text("DELETE FROM users"))
        db.session.commit()
    except Exception as exc:  # the refusal is the point: report it to the caller
        db.session.rollback()
        return type(exc).__name__ + ": " + str(exc).splitlines()[0]
    return "written"


def test_workers_read_committed_rows_and_cannot_write(app, committed_db):
    make_user(committed_db, email="committed@example.jp")
    committed_db.commit()
    with read_only_pool(app, 1) as pool:
        assert pool.submit(in_app, count_users).result(timeout=60) == 1
        refusal = pool.submit(in_app, try_to_write).result(timeout=60)
    assert "read" in refusal.lower() and "only" in refusal.lower(), refusal
    assert committed_db.scalar(select(func.count(User.id))) == 1  # nothing was deleted


def test_a_worker_reads_while_the_caller_holds_its_write_transaction(app, committed_db):
    make_user(committed_db, email="first@example.jp")
    committed_db.commit()
    make_user(committed_db, email="uncommitted@example.jp")  # flushed: the caller's transaction holds the lock
    with read_only_pool(app, 1) as pool:
        # Neither waits for the caller's commit (SQLite: a deferred BEGIN) nor sees its uncommitted row.
        assert pool.submit(in_app, count_users).result(timeout=20) == 1
    committed_db.rollback()


def test_only_settings_that_travel_are_sent(app, monkeypatch):
    monkeypatch.setitem(app.config, "SOME_CALLBACK", lambda: None)
    settings = portable_settings(app)
    assert "SOME_CALLBACK" not in settings
    assert settings["DATABASE_URL"] == app.config["DATABASE_URL"]


def gc_state() -> tuple[tuple[int, int, int], int]:
    import gc

    return gc.get_threshold(), gc.get_freeze_count()


def test_fewer_collections_during_a_batch_and_the_collector_restored_after():
    import gc

    from kyodo_fund.jobs.workers import BATCH_GC_THRESHOLD, fewer_collections

    before = gc_state()
    with fewer_collections():
        threshold, frozen = gc_state()
        assert threshold[0] == BATCH_GC_THRESHOLD and threshold[1:] == before[0][1:]
        assert frozen > before[1]  # the app's objects were set aside
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles made during the batch are still collected
    assert gc_state() == before


def test_a_worker_collects_less_for_its_batch(app):
    from kyodo_fund.jobs.workers import BATCH_GC_THRESHOLD

    with read_only_pool(app, 1) as pool:
        (threshold, frozen) = pool.submit(in_app, gc_state).result(timeout=60)
    assert threshold[0] == BATCH_GC_THRESHOLD and frozen > 0
