"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, create_engine, text
from sqlalchemy.engine import make_url

import kyodo_fund.models  # noqa: F401
from kyodo_fund.cli import alembic_config
from kyodo_fund.db import Base, make_engine


@pytest.fixture
def empty_database(database_url, tmp_path, worker_id):
    """A brand-new empty database of the same kind as the suite's."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    name = f"{url.database}_migr"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _type_differs(context, inspected_column, metadata_column, inspected_type, metadata_type):
    # Our TypeDecorators store as their impl; compare what actually lands in the database.
    impl = getattr(metadata_type, "impl", metadata_type)
    return context.impl.compare_type(inspected_column, Column(metadata_column.name, impl))


def test_upgrade_head_matches_models(empty_database):
    command.upgrade(alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": _type_differs})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; generate a migration: {diff}"


def test_downgrade_to_base_and_up_again(empty_database):
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")
    engine = make_engine(empty_database)
    try:
        with engine.connect() as conn:
            tables = set(conn.dialect.get_table_names(conn))
    finally:
        engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_postgres_schema_from_migrations_refuses_changes_to_audit_and_ledger(empty_database):
    from sqlalchemy.exc import DBAPIError

    if not empty_database.startswith("postgresql"):
        pytest.skip("the append-only triggers are PostgreSQL's; SQLite relies on the ORM listeners")
    command.upgrade(alembic_config(empty_database), "head")
    engine = make_engine(empty_database)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_entries (occurred_at, actor_label, action, object_type)"
                    " VALUES (now(), 'system', 'test.row', 'Thing')"
                )
            )
            conn.execute(
                text("INSERT INTO ledger_accounts (key, kind, label) VALUES ('fund:general', 'liability', 'x')")
            )
        refused = [
            "UPDATE audit_entries SET action = 'changed'",
            "DELETE FROM audit_entries",
            "UPDATE ledger_accounts SET key = 'fund:other'",
            "DELETE FROM ledger_accounts",
        ]
        for statement in refused:
            with engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
                conn.execute(text(statement))
        with engine.begin() as conn:  # labels may still be reworded
            conn.execute(text("UPDATE ledger_accounts SET label = 'general fund'"))
    finally:
        engine.dispose()
