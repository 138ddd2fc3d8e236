from datetime import timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AppendOnlyError, AuditEntry
from kyodo_fund.audit.services import record, search_entries
from kyodo_fund.db import utcnow
from tests.conftest import login
from tests.factories import make_user


def test_entries_cannot_be_changed_or_deleted(db_session):
    entry = record(db_session, Actor(None, "198.51.100.7"), "test.thing", ("Thing", 1), after={"x": 1})
    entry.action = "tampered"
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    entry = record(db_session, Actor(None), "test.thing", ("Thing", 1))
    db_session.delete(entry)
    with pytest.raises(AppendOnlyError):
        db_session.flush()


def test_search_filters(db_session):
    alice = make_user(db_session, "alice@example.jp")
    record(db_session, Actor(alice), "orgs.approve", ("Organisation", 3))
    record(db_session, Actor(None), "accounts.login_failed", ("User", None))
    found = db_session.scalars(search_entries(db_session, actor="alice")).all()
    assert [e.action for e in found] == ["orgs.approve"]
    found = db_session.scalars(search_entries(db_session, action="accounts.")).all()
    assert [e.action for e in found] == ["accounts.login_failed"]
    assert db_session.scalars(search_entries(db_session, since=utcnow() + timedelta(hours=1))).all() == []
    assert len(db_session.scalars(search_entries(db_session, object_type="Organisation", object_id="3")).all()) == 1


def test_admin_browses_the_log_and_others_get_404(client, db_session):
    admin = make_user(db_session, "root@example.jp", role=UserRole.ADMIN)
    reviewer = make_user(db_session, "rev@example.jp", role=UserRole.REVIEWER)
    record(db_session, Actor(admin), "orgs.approve", ("Organisation", 99), note="問題なし")
    db_session.commit()
    login(client, reviewer.email)
    assert client.get("/admin/audit/").status_code == 404
    client.delete_cookie("kyodo_session")
    login(client, admin.email)
    page = client.get("/admin/audit/?object_id=99").get_data(as_text=True)
    assert "orgs.approve" in page and "問題なし" in page
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.object_id == "99")) is not None


def test_postgres_trigger_refuses_raw_sql_changes(app, db_session):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from kyodo_fund.audit.models import POSTGRES_APPEND_ONLY_SQL

    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite relies on the ORM guard")
    db_session.execute(text(POSTGRES_APPEND_ONLY_SQL))
    entry = record(db_session, Actor(None), "test.raw", ("Thing", 1))
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("UPDATE audit_entries SET action = 'x' WHERE id = :id"), {"id": entry.id})
    with pytest.raises(DBAPIError, match="append-only"), db_session.begin_nested():
        db_session.execute(text("DELETE FROM audit_entries WHERE id = :id"), {"id": entry.id})
