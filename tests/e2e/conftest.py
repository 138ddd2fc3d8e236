"""Browser tests: the real app served by werkzeug in a thread, driven through Debian Chromium.

Each test module gets a fresh database of the suite's kind with real commits, and the mail the
app sends goes to the suite's SMTP server, so a test can follow links from e-mails.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from kyodo_fund.db import Base
from kyodo_fund.factory import create_app

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.e2e


def _fresh_database(database_url: str, tmp_path: Path, suffix: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / f'e2e_{suffix}.sqlite3'}"
    name = f"{url.database}_e2e_{suffix}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


class LiveServer:
    def __init__(self, app) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture(scope="module")
def live_app(smtp_server, database_url, tmp_path_factory, request):
    controller, _ = smtp_server
    tmp = tmp_path_factory.mktemp("e2e")
    suffix = re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:20]
    url = _fresh_database(database_url, tmp, suffix)
    app = create_app(
        "testing",
        overrides={
            "DATABASE_URL": url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": controller.port,
            "MAIL_SEND_AFTER_COMMIT": True,
            "UPLOAD_DIR": str(tmp / "uploads"),
            "PROPAGATE_EXCEPTIONS": False,
        },
    )
    app.testing = False  # behave like a served app: error pages, no exception propagation
    Base.metadata.create_all(app.extensions["kyodo_db_engine"])
    yield app
    app.extensions["kyodo_db_engine"].dispose()


@pytest.fixture(scope="module")
def live_server(live_app):
    with LiveServer(live_app) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian Chromium is not installed (apt-get install chromium); bin/test installs it as root")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - it is a test dependency
        pytest.skip("playwright is not installed")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def inbox(smtp_server):
    _, box = smtp_server
    with box.lock:
        box.messages.clear()
    return box


def wait_for_mail(box, to: str, timeout: float = 30.0, app=None, subject: str = ""):
    """The newest message to ``to`` (whose subject contains ``subject``, if given).

    The app tries to send right after the commit of the request that queued it; the scheduler's
    ``mail.send`` job (every 30 s in ``make run``) delivers whatever that missed. With ``app`` given,
    this runs that job's function every few seconds as the scheduler process would, so the test
    checks what a user gets, not which of the two paths delivered it.
    """
    import time

    deadline = time.monotonic() + timeout
    next_job = time.monotonic() + 3
    while time.monotonic() < deadline:
        with box.lock:
            found = [m for m in box.messages if m["To"] == to and subject in m["Subject"]]
        if found:
            return found[-1]
        if app is not None and time.monotonic() > next_job:
            _run_mail_job(app)
            next_job = time.monotonic() + 3
        time.sleep(0.05)
    raise AssertionError(f"no mail to {to} within {timeout}s; outbox: {_outbox_state(app, to)}")


def _run_mail_job(app) -> None:
    from kyodo_fund.extensions import db
    from kyodo_fund.notifications.tasks import send_outbox

    with app.app_context():
        session = db.session_factory()
        try:
            send_outbox(session, app.config)
        finally:
            session.close()


def _outbox_state(app, to: str) -> str:
    if app is None:
        return "unknown (no app given)"
    from sqlalchemy import select

    from kyodo_fund.extensions import db
    from kyodo_fund.notifications.models import OutboxMessage

    with app.app_context():
        rows = db.session.execute(
            select(
                OutboxMessage.template, OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error
            ).where(OutboxMessage.to_address == to)
        ).all()
    return repr(rows)


def link_in(message, pattern: str) -> str:
    body = message.get_body(("plain",)).get_content()
    match = re.search(pattern, body)
    assert match, f"no link matching {pattern!r} in:\n{body}"
    return match.group(0)
