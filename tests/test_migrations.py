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


def test_pst_identity_migration_backfills_existing_gifts(empty_database):
    """Gifts written before the PST identities existed get them, their households and their year totals."""
    from datetime import date

    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from kyodo_fund.certification.identities import reindex
    from kyodo_fund.certification.models import PstDonorIdentity, PstIdentityYear
    from kyodo_fund.donations.models import Donation
    from tests.factories import make_org, make_project

    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "ed534c8e9fbd")  # the schema before identities
    engine = make_engine(empty_database)
    try:
        with Session(engine) as session:
            project = make_project(session, make_org(session))
            org_id = project.organisation_id
            columns = {c.name for c in Donation.__table__.columns} - {"pst_identity_id"}
            gifts = [
                ("田中 太郎", "長野市1", "田中家", "paid", date(2025, 3, 31), 3_000),
                ("田中　太郎", "長野市１", "", "paid", date(2025, 4, 1), 2_000),  # the same person, next FY
                ("田中 花子", "長野市1", "田中家", "partially_refunded", date(2025, 4, 2), 5_000),
                ("匿名", "長野市2", "", "paid", date(2025, 5, 1), 1_000),
                ("鈴木 一", "", "", "paid", date(2025, 5, 1), 4_000),  # no address: no identity
            ]
            for n, (name, address, household, status, received_on, amount) in enumerate(gifts):
                row = {
                    "public_id": f"m{n}",
                    "project_id": project.id,
                    "kind": "one_off",
                    "channel": "offline",
                    "method": "cash",
                    "status": status,
                    "amount_yen": amount,
                    "refunded_yen": 1_000 if status == "partially_refunded" else 0,
                    "donor_name": name,
                    "donor_address": address,
                    "donor_household": household,
                    "anonymous": name == "匿名",
                    "received_on": received_on,
                }
                session.execute(insert(Donation.__table__).values({k: v for k, v in row.items() if k in columns}))
            session.commit()
        command.upgrade(cfg, "head")
        with Session(engine) as session:
            migrated = {
                table: sorted(tuple(r) for r in session.execute(select(*table.c)).all())
                for table in (Donation.__table__, PstDonorIdentity.__table__, PstIdentityYear.__table__)
            }
            identities = dict(session.execute(select(Donation.donor_name, Donation.pst_identity_id)).all())
            assert identities["匿名"] is None and identities["鈴木 一"] is None
            assert identities["田中 太郎"] == identities["田中　太郎"] != identities["田中 花子"]
            taro, hanako = identities["田中 太郎"], identities["田中 花子"]
            units = {i: session.get(PstDonorIdentity, i) for i in (taro, hanako)}
            # One household through the label; its unit is the smaller id (the other row points to it).
            assert {i: u.unit_id or u.id for i, u in units.items()} == {taro: min(units), hanako: min(units)}
            years = {
                (y.identity_id, y.fiscal_year_end): (y.amount_yen, y.gifts)
                for y in session.scalars(select(PstIdentityYear))
            }
            assert years == {
                (taro, date(2025, 3, 31)): (3_000, 1),
                (taro, date(2026, 3, 31)): (2_000, 1),
                (hanako, date(2026, 3, 31)): (4_000, 1),
            }
            # The migration's own code agrees with the application's (``flask pst reindex``) row for row.
            reindex(session, org_id)
            session.flush()
            for table, rows in migrated.items():
                assert sorted(tuple(r) for r in session.execute(select(*table.c)).all()) == rows, table.name
    finally:
        engine.dispose()
