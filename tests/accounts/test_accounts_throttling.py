"""Throttling runs on an app of its own: the suite's app has ``RATELIMIT_ENABLED = False``, and
Flask-Limiter reads that switch once, in ``init_app``, onto the shared ``limiter`` singleton."""

from datetime import timedelta

import pytest
from limits import parse
from sqlalchemy import func, select

from kyodo_fund.db import utcnow
from kyodo_fund.extensions import limiter
from kyodo_fund.factory import create_app
from kyodo_fund.notifications.models import OutboxMessage
from tests.conftest import post_form
from tests.factories import PASSWORD, make_user

LOGIN = "/account/login"
TOO_MANY = "アクセスが集中しています"


@pytest.fixture(scope="module")
def limited_app(app):
    limited = create_app(
        "testing",
        overrides={
            "DATABASE_URL": app.config["DATABASE_URL"],
            "SMTP_PORT": app.config["SMTP_PORT"],
            "RATELIMIT_ENABLED": True,
            "LOGIN_LIMIT_PER_IP": "3 per 10 minutes",
            "LOGIN_LIMIT_PER_ACCOUNT": "2 per 10 minutes",
            "SIGNUP_LIMIT_PER_IP": "2 per hour",
            "FORGOT_LIMIT_PER_IP": "2 per hour",
            "MAIL_LIMIT_PER_ADDRESS": "2 per hour",
        },
    )
    yield limited
    limited.extensions["kyodo_db_engine"].dispose()


@pytest.fixture
def throttled(limited_app, app, db_session):
    # init_app points the singleton at this app's settings and starts with empty counters ...
    limiter.init_app(limited_app)
    yield limited_app
    # ... and this switches it off again for the rest of the suite.
    limiter.init_app(app)


def _client(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _attempt(client, email: str, password: str = "wrong password"):
    return post_form(client, LOGIN, {"email": email, "password": password}, token_page=LOGIN)


def test_login_attempts_from_one_ip_are_throttled(throttled):
    client = _client(throttled, "198.51.100.1")
    for n in range(3):
        assert _attempt(client, f"guess{n}@example.jp").status_code == 200
    refused = _attempt(client, "guess9@example.jp")
    assert refused.status_code == 429
    assert TOO_MANY in refused.get_data(as_text=True)
    assert client.get(LOGIN).status_code == 200, "only POSTs count"
    assert _attempt(_client(throttled, "198.51.100.2"), "guess9@example.jp").status_code == 200


def test_one_account_is_throttled_across_ips_but_not_locked_out(throttled, db_session, time_machine):
    time_machine.move_to(utcnow(), tick=True)
    user = make_user(db_session, "target@example.jp")
    db_session.commit()
    for n in range(2):
        assert _attempt(_client(throttled, f"203.0.113.{n}"), "Target@example.jp").status_code == 200
    refused = _attempt(_client(throttled, "203.0.113.50"), user.email, PASSWORD)
    assert refused.status_code == 429, "even the right password waits while the account is throttled"
    assert _attempt(_client(throttled, "203.0.113.51"), "someone.else@example.jp").status_code == 200

    time_machine.shift(timedelta(minutes=11))
    assert _attempt(_client(throttled, "203.0.113.52"), user.email, PASSWORD).status_code == 302


def test_signup_posts_are_throttled_per_ip(throttled):
    client = _client(throttled, "198.51.100.7")
    for n in range(2):
        data = {"email": f"new{n}@example.jp", "password": PASSWORD, "password_confirm": PASSWORD}
        assert post_form(client, "/account/signup", data, token_page="/account/signup").status_code == 302
    data = {"email": "new9@example.jp", "password": PASSWORD, "password_confirm": PASSWORD}
    assert post_form(client, "/account/signup", data, token_page="/account/signup").status_code == 429


def test_forgot_password_is_throttled_per_ip_and_per_address(throttled, db_session):
    forgot = "/account/password/forgot"
    make_user(db_session, "victim@example.jp")
    db_session.commit()
    client = _client(throttled, "198.51.100.9")
    for n in range(2):
        assert post_form(client, forgot, {"email": f"a{n}@example.jp"}, token_page=forgot).status_code == 302
    assert post_form(client, forgot, {"email": "a9@example.jp"}, token_page=forgot).status_code == 429

    # Nobody can flood one inbox by rotating addresses.
    for n in range(2):
        ip_client = _client(throttled, f"192.0.2.{n}")
        assert post_form(ip_client, forgot, {"email": "victim@example.jp"}, token_page=forgot).status_code == 302
    last = post_form(_client(throttled, "192.0.2.99"), forgot, {"email": "VICTIM@example.jp"}, token_page=forgot)
    assert last.status_code == 429
    sent = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.to_address == "victim@example.jp")
    assert db_session.scalar(sent) == 2


def test_an_app_with_limits_switched_off_is_not_throttled_meanwhile(throttled, app, client):
    # ``client`` belongs to the suite's app (RATELIMIT_ENABLED = False) while the shared limiter is on.
    allowed = parse(app.config["LOGIN_LIMIT_PER_IP"]).amount
    for n in range(allowed + 1):
        assert _attempt(client, f"guess{n}@example.jp").status_code == 200
