"""Declarative base, naming convention, column types and the engine/session holder.

Services take a ``Session`` and only ``flush()``; the request, job runner or CLI command commits.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use kyodo_fund.db.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class StrEnumType(TypeDecorator):
    """A ``StrEnum`` stored by its value in a plain VARCHAR (no native enum to migrate)."""

    impl = String(40)
    cache_ok = True

    def __init__(self, enum_class: type[enum.StrEnum], length: int = 40):
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return self.enum_class(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> enum.StrEnum | None:
        return None if value is None else self.enum_class(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def make_engine(url: str, echo: bool = False, *, read_only: bool = False) -> Engine:
    """``read_only``: for worker processes that only read (a batch job's checks spread over the cores). Writes are
    refused by the database itself, and on SQLite its transactions do not take the write lock, so they run beside
    each other and beside a writer."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        if read_only:
            kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _make_sqlite_transactional(engine, read_only)
    return engine


def _make_sqlite_transactional(engine: Engine, read_only: bool = False) -> None:
    # pysqlite opens transactions lazily and breaks SAVEPOINT; take over BEGIN ourselves.
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        if read_only:
            cur.execute("PRAGMA query_only=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # IMMEDIATE takes the write lock up front, the closest SQLite gets to SELECT ... FOR UPDATE. A read-only
        # engine never writes: a deferred BEGIN reads a snapshot (WAL) without waiting for, or blocking, writers.
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class _AppSession(Session):
    """Uses the engine of the current app unless a bind was set (tests bind one connection)."""

    def get_bind(self, mapper=None, clause=None, **kw):
        if self.bind is not None:
            return self.bind
        return _DATABASES[-1].engine if _DATABASES else super().get_bind(mapper, clause, **kw)


_DATABASES: list[Database] = []


class Database:
    """Per-app engines plus one thread-scoped session, bound to apps by ``init_app``.

    Several apps may live in one process (tests, tools); the session uses the engine of the app
    whose context is active.
    """

    def __init__(self) -> None:
        self._fallback: Engine | None = None
        self.session_factory = sessionmaker(class_=_AppSession, expire_on_commit=False)
        self.session: scoped_session[Session] = scoped_session(self.session_factory)
        _DATABASES.append(self)

    def init_app(self, app: Any) -> None:
        engine = make_engine(
            app.config["SQLALCHEMY_DATABASE_URI"],
            app.config.get("SQL_ECHO", False),
            read_only=bool(app.config.get("DATABASE_READ_ONLY", False)),
        )
        app.extensions["kyodo_db_engine"] = engine
        self._fallback = engine

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            # Anything not committed by the view is rolled back here.
            self.session.remove()

    @property
    def engine(self) -> Engine:
        from flask import current_app, has_app_context

        if has_app_context() and "kyodo_db_engine" in current_app.extensions:
            return current_app.extensions["kyodo_db_engine"]
        if self._fallback is None:
            raise RuntimeError("database used before init_app")
        return self._fallback

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name
