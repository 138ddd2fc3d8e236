from datetime import timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import User
from kyodo_fund.accounts.services import verify_password
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.db import utcnow
from tests.conftest import csrf_from, login, post_form
from tests.factories import PASSWORD, make_user

FORGOT = "/account/password/forgot"
NEW = "a brand new passphrase"


@pytest.fixture
def bob(db_session):
    user = make_user(db_session, "bob@example.jp", confirmed=False)
    db_session.commit()
    return user


def _request_reset(client, email: str):
    return post_form(client, FORGOT, {"email": email}, token_page=FORGOT)


def _reset_link(client, email, send_mail, mailbox, mail_path) -> str:
    _request_reset(client, email)
    send_mail()
    [message] = [m for m in mailbox if "パスワード再設定" in m["Subject"]]
    return mail_path(message, "/account/password/reset/")


def _set_new_password(client, path: str, password: str = NEW):
    return post_form(client, path, {"password": password, "password_confirm": password}, token_page=path)


def _signed_in(client) -> bool:
    return client.get("/account/profile").status_code == 200


def test_forgot_answers_the_same_for_known_and_unknown_addresses(app, client, db_session, bob, send_mail, mailbox):
    known = _request_reset(client, "Bob@example.jp")
    other = app.test_client()
    unknown = _request_reset(other, "nobody@example.jp")
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    assert known.get_data() == unknown.get_data()
    assert "登録されている場合は" in client.get("/account/login").get_data(as_text=True)
    assert "登録されている場合は" in other.get("/account/login").get_data(as_text=True)
    send_mail()
    assert [m["To"] for m in mailbox] == ["bob@example.jp"]


def test_reset_sets_the_password_signs_in_and_confirms(client, db_session, bob, send_mail, mailbox, mail_path):
    path = _reset_link(client, bob.email, send_mail, mailbox, mail_path)
    assert client.get(path).status_code == 200
    response = _set_new_password(client, path)
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    assert _signed_in(client)

    user = db_session.get(User, bob.id)
    assert verify_password(user, NEW) and not verify_password(user, PASSWORD)
    assert user.session_version == 2
    assert user.is_confirmed, "the link proved the mailbox"
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "accounts.password_reset"))
    assert entry is not None and entry.object_id == str(bob.id)
    mailbox.clear()
    send_mail()
    assert [m["Subject"] for m in mailbox] == ["【信州協働ファンド】パスワードが変更されました"]


def test_a_reset_link_works_once(app, client, db_session, bob, send_mail, mailbox, mail_path):
    path = _reset_link(client, bob.email, send_mail, mailbox, mail_path)
    assert _set_new_password(client, path).status_code == 302
    second = app.test_client()
    assert second.get(path).status_code == 400
    response = _set_new_password(second, path, "attacker's choice")
    assert response.status_code == 400
    assert "すでに使用されています" in response.get_data(as_text=True)
    assert verify_password(db_session.get(User, bob.id), NEW)


def test_an_expired_reset_link_changes_nothing(client, db_session, bob, send_mail, mailbox, mail_path, time_machine):
    time_machine.move_to(utcnow(), tick=True)
    path = _reset_link(client, bob.email, send_mail, mailbox, mail_path)
    time_machine.shift(timedelta(minutes=client.application.config["RESET_TOKEN_MINUTES"] + 1))
    page = client.get(path)
    assert page.status_code == 400
    assert "有効期限が切れています" in page.get_data(as_text=True)
    assert _set_new_password(client, path).status_code == 400
    user = db_session.get(User, bob.id)
    assert verify_password(user, PASSWORD) and user.session_version == 1


def test_an_invalid_new_password_keeps_the_link_usable(client, db_session, bob, send_mail, mailbox, mail_path):
    path = _reset_link(client, bob.email, send_mail, mailbox, mail_path)
    response = _set_new_password(client, path, "short")
    assert response.status_code == 200
    assert "8文字以上" in response.get_data(as_text=True)
    assert _set_new_password(client, path).status_code == 302


def test_reset_ends_every_other_session_and_remember_cookie(
    app, client, db_session, bob, send_mail, mailbox, mail_path
):
    laptop = app.test_client()
    post_form(laptop, "/account/login", {"email": bob.email, "password": PASSWORD}, token_page="/account/login")
    phone = app.test_client()
    data = {"email": bob.email, "password": PASSWORD, "remember": "y"}
    post_form(phone, "/account/login", data, token_page="/account/login")
    phone.delete_cookie("kyodo_session")  # browser restarted: only the remember cookie is left
    assert _signed_in(laptop) and _signed_in(phone)

    path = _reset_link(client, bob.email, send_mail, mailbox, mail_path)
    _set_new_password(client, path)

    assert not _signed_in(laptop)
    phone.delete_cookie("kyodo_session")
    assert not _signed_in(phone)
    assert _signed_in(client)


def test_reset_link_uses_the_configured_host_not_the_request_host(client, bob, send_mail, mailbox, mail_links):
    page = client.get(FORGOT, base_url="http://attacker.example")
    response = client.post(
        FORGOT,
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "email": bob.email},
        base_url="http://attacker.example",
    )
    assert response.status_code == 302
    send_mail()
    [link] = mail_links(mailbox[0])
    assert link.startswith(client.application.config["PUBLIC_BASE_URL"] + "/account/password/reset/")


def test_change_password_needs_the_current_one(client, db_session):
    user = make_user(db_session, "carol@example.jp")
    db_session.commit()
    login(client, user.email)
    data = {"current_password": "not it", "password": NEW, "password_confirm": NEW}
    response = post_form(client, "/account/password", data, token_page="/account/password")
    assert response.status_code == 200
    assert "現在のパスワードが正しくありません" in response.get_data(as_text=True)
    assert verify_password(db_session.get(User, user.id), PASSWORD)


def test_change_password_keeps_this_session_and_ends_the_others(app, client, db_session):
    user = make_user(db_session, "dave@example.jp")
    db_session.commit()
    other_device = app.test_client()
    login(other_device, user.email)
    data = {"email": user.email, "password": PASSWORD, "remember": "y"}
    post_form(client, "/account/login", data, token_page="/account/login")

    data = {"current_password": PASSWORD, "password": NEW, "password_confirm": NEW}
    response = post_form(client, "/account/password", data, token_page="/account/password")
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    assert _signed_in(client)
    client.delete_cookie("kyodo_session")
    assert _signed_in(client), "the remember cookie was renewed under the new session version"
    assert not _signed_in(other_device)
    stored = db_session.get(User, user.id)
    assert verify_password(stored, NEW) and stored.session_version == 2
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "accounts.password_changed"))
