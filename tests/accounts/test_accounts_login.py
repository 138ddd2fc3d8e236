import re

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import User
from kyodo_fund.accounts.services import email_fingerprint
from kyodo_fund.audit.models import AuditEntry
from tests.conftest import csrf_from, login, post_form
from tests.factories import PASSWORD, make_user

#: Where a login without a (safe) ``next`` lands: the donor dashboard.
HOME_AFTER_LOGIN = "/me/donations"

LOGIN = "/account/login"
FAILED = "メールアドレスまたはパスワードが正しくありません。"


@pytest.fixture
def alice(db_session):
    user = make_user(db_session, "alice@example.jp")
    db_session.commit()
    return user


def _signed_in(client) -> bool:
    return client.get("/account/profile").status_code == 200


def _audit(db_session, action: str) -> list[AuditEntry]:
    return list(db_session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_login_succeeds_records_audit_and_last_login(client, db_session, alice):
    response = login(client, "  ALICE@example.jp ")
    assert response.status_code == 302
    assert response.headers["Location"] == HOME_AFTER_LOGIN
    assert _signed_in(client)
    assert db_session.get(User, alice.id).last_login_at is not None
    [entry] = _audit(db_session, "accounts.login_succeeded")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (alice.id, "User", str(alice.id))
    assert entry.ip == "127.0.0.1"


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client, db_session, alice):
    wrong = post_form(client, LOGIN, {"email": alice.email, "password": "wrong password"}, token_page=LOGIN)
    other = app.test_client()
    unknown = post_form(other, LOGIN, {"email": "nobody@example.jp", "password": "wrong password"}, token_page=LOGIN)
    assert wrong.status_code == unknown.status_code == 200
    assert FAILED in wrong.get_data(as_text=True)
    assert _comparable(wrong, alice.email) == _comparable(unknown, "nobody@example.jp")
    assert not _signed_in(client) and not _signed_in(other)

    known_row, unknown_row = _audit(db_session, "accounts.login_failed")
    assert (known_row.object_type, known_row.object_id, known_row.note) == ("User", str(alice.id), "wrong password")
    assert (unknown_row.object_type, unknown_row.object_id) == ("User", None)
    assert unknown_row.note == f"unknown email sha256={email_fingerprint('nobody@example.jp')}"
    for row in (known_row, unknown_row):
        assert "wrong password" not in str(row.before) + str(row.after)
        assert "nobody@example.jp" not in (row.note or ""), "the typed address is not stored"


def _comparable(response, typed_email: str) -> str:
    """The page minus what legitimately differs: the echoed address and the per-session CSRF tokens."""
    html = response.get_data(as_text=True).replace(typed_email, "EMAIL")
    return re.sub(r'(name="csrf[-_]token" (?:type="hidden" )?(?:content|value)=")[^"]+', r"\1", html)


def test_disabled_account_cannot_log_in_even_with_the_right_password(client, db_session):
    user = make_user(db_session, "off@example.jp", is_active_account=False)
    db_session.commit()
    response = login(client, user.email)
    assert response.status_code == 200
    assert "利用が停止されています" in response.get_data(as_text=True)
    assert not _signed_in(client)
    [entry] = _audit(db_session, "accounts.login_failed")
    assert entry.note == "account disabled"
    assert _audit(db_session, "accounts.login_succeeded") == []


def test_disabling_an_account_ends_its_open_session(client, db_session, alice):
    login(client, alice.email)
    assert _signed_in(client)
    db_session.get(User, alice.id).is_active_account = False
    db_session.commit()
    assert not _signed_in(client)


@pytest.mark.parametrize("remember", [True, False])
def test_remember_me_sets_a_remember_cookie_only_when_asked(client, alice, remember):
    data = {"email": alice.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    post_form(client, LOGIN, data, token_page=LOGIN)
    cookie = client.get_cookie("remember_token")
    assert (cookie is not None) is remember
    if remember:
        assert cookie.http_only and cookie.same_site == "Lax"


def test_session_is_renewed_on_login_and_the_old_csrf_token_dies(client, alice):
    page = client.get(LOGIN).get_data(as_text=True)
    before = client.get_cookie("kyodo_session").value
    old_token = csrf_from(page)
    response = client.post(LOGIN, data={"csrf_token": old_token, "email": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get_cookie("kyodo_session").value != before
    # A token planted before login (session fixation's twin) is useless afterwards.
    assert client.post("/account/logout", data={"csrf_token": old_token}).status_code == 400
    assert _signed_in(client)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\r\nSet-Cookie:x",
        "/\t/evil.example",
    ],
)
def test_next_may_only_be_a_same_site_path(client, alice, target):
    response = post_form(
        client, LOGIN, {"email": alice.email, "password": PASSWORD}, token_page=LOGIN, query_string={"next": target}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == HOME_AFTER_LOGIN


def test_next_to_a_local_page_is_followed(client, alice):
    response = post_form(
        client,
        LOGIN,
        {"email": alice.email, "password": PASSWORD},
        token_page=LOGIN,
        query_string={"next": "/account/password?x=1"},
    )
    assert response.headers["Location"] == "/account/password?x=1"


def test_login_required_pages_send_anonymous_visitors_to_login_and_back(client, alice):
    response = client.get("/account/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")
    back = post_form(
        client, response.headers["Location"], {"email": alice.email, "password": PASSWORD}, token_page=LOGIN
    )
    assert back.headers["Location"] == "/account/profile"


def test_logout_is_post_only_and_needs_the_csrf_token(client, alice):
    login(client, alice.email)
    assert client.get("/account/logout").status_code == 405
    assert client.post("/account/logout").status_code == 400
    assert _signed_in(client), "a refused logout changes nothing"
    response = post_form(client, "/account/logout", token_page="/account/profile")
    assert response.status_code == 302
    assert not _signed_in(client)


def test_cookies_copied_before_logout_are_dead_after_it(app, client, db_session, alice):
    post_form(client, LOGIN, {"email": alice.email, "password": PASSWORD, "remember": "y"}, token_page=LOGIN)
    stolen_session = client.get_cookie("kyodo_session").value
    stolen_remember = client.get_cookie("remember_token").value
    post_form(client, "/account/logout", token_page="/account/profile")
    assert client.get_cookie("remember_token") is None, "logout deletes the remember cookie"

    thief = app.test_client()
    thief.set_cookie("kyodo_session", stolen_session)
    thief.set_cookie("remember_token", stolen_remember)
    assert not _signed_in(thief)
    assert db_session.get(User, alice.id).session_version == 2
