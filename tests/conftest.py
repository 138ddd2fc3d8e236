"""Fixtures shared by the whole suite: the app on SQLite or PostgreSQL, one rolled-back
transaction per test, a real SMTP server on loopback, and helpers to sign in and post forms.

``KYODO_TEST_DATABASE_URL`` picks the database (default: a fresh SQLite file).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from kyodo_fund.db import Base
from kyodo_fund.extensions import db as database
from kyodo_fund.factory import create_app

pytest_plugins = ["tests.fixtures_stripe"]

TEST_DB_URL = os.environ.get("KYODO_TEST_DATABASE_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    """aiosmtpd handler that keeps every received message."""

    def __init__(self) -> None:
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"


@pytest.fixture(scope="session")
def smtp_server():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _worker_database(url: str, worker: str) -> str:
    """Each xdist worker gets its own PostgreSQL database next to the one CI created."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    if TEST_DB_URL.startswith("postgresql"):
        return _worker_database(TEST_DB_URL, worker_id) if worker_id != "master" else TEST_DB_URL
    if TEST_DB_URL:
        return TEST_DB_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def app(smtp_server, tmp_path_factory, database_url):
    controller, _ = smtp_server
    instance = tmp_path_factory.mktemp("instance")
    url = database_url
    application = create_app(
        "testing",
        overrides={
            "DATABASE_URL": url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": controller.port,
            "UPLOAD_DIR": str(instance / "uploads"),
        },
    )
    application.instance_path = str(instance)
    with application.app_context():
        import kyodo_fund.models  # noqa: F401

        Base.metadata.drop_all(database.engine)
        Base.metadata.create_all(database.engine)
    yield application
    application.extensions["kyodo_db_engine"].dispose()


@pytest.fixture
def db_session(app):
    """The app's session bound to one connection whose outer transaction is rolled back.

    Code under test may ``commit()``; with ``create_savepoint`` that only releases a savepoint.
    """
    # No app context is held open here: each test-client request must get its own, as in production
    # (Flask-Login and Flask-Babel cache per context). Tests that render or build URLs use ``app_ctx``.
    connection = app.extensions["kyodo_db_engine"].connect()
    outer = connection.begin()
    database.session_factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield database.session
    finally:
        database.session.remove()
        outer.rollback()
        connection.close()
        database.session_factory.configure(bind=None, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def app_ctx(app):
    """A request context for tests that call services which render mail or build URLs."""
    with app.test_request_context():
        yield


@pytest.fixture
def committed_db(app):
    """For tests that need real commits (threads, several connections): empties every table after."""
    with app.app_context():
        yield database.session
        database.session.remove()
        with app.extensions["kyodo_db_engine"].begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture
def mailbox(smtp_server):
    _, inbox = smtp_server
    with inbox.lock:
        inbox.messages.clear()
    return inbox.messages


@pytest.fixture
def send_mail(app, db_session):
    """Deliver everything in the outbox through the real SMTP server; returns the counts."""
    from kyodo_fund.notifications.sender import send_due

    def _send() -> dict:
        return send_due(db_session, app.config)

    return _send


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def post_form(client, url: str, data: dict | None = None, *, token_page: str = "/", **kwargs):
    """POST like a browser would: first fetch a page for the CSRF token."""
    page = client.get(token_page)
    payload = {"csrf_token": csrf_from(page.get_data(as_text=True)), **(data or {})}
    return client.post(url, data=payload, **kwargs)


def login(client, email: str, password: str = "correct horse battery"):
    return post_form(client, "/account/login", {"email": email, "password": password}, token_page="/account/login")


@pytest.fixture
def is_postgres(app) -> bool:
    return app.extensions["kyodo_db_engine"].dialect.name == "postgresql"


def requires_postgres(app) -> None:
    if app.extensions["kyodo_db_engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: run with KYODO_TEST_DATABASE_URL=postgresql+psycopg://...")


__all__ = ["Path", "csrf_from", "free_port", "login", "post_form", "requires_postgres", "tempfile", "text"]
