import hashlib
from datetime import timedelta

from sqlalchemy import func, select

from kyodo_fund.accounts.models import AccountToken, TokenPurpose, User, UserRole
from kyodo_fund.accounts.services import verify_password
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.db import utcnow
from tests.conftest import login, post_form
from tests.factories import PASSWORD, make_user

SIGNUP = "/account/signup"
NEW_PASSWORD = "  長い合言葉 with spaces  "


def _sign_up(client, email: str, password: str = NEW_PASSWORD, **extra):
    data = {"email": email, "password": password, "password_confirm": password, "name": "信州 花子", **extra}
    return post_form(client, SIGNUP, data, token_page=SIGNUP)


def _user(db_session, email: str) -> User | None:
    return db_session.scalar(select(User).where(User.email == email))


def test_signup_page_shows_purpose_notice_before_submit(client):
    html = client.get(SIGNUP).get_data(as_text=True)
    assert 'name="password_confirm"' in html
    assert html.index('class="purpose-notice"') < html.index('type="submit"', html.index('name="password_confirm"'))


def test_signup_creates_unconfirmed_donor_and_mails_a_single_use_link(
    client, db_session, mailbox, send_mail, mail_path
):
    response = _sign_up(client, "  Hanako@Example.JP ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/login"
    assert "ご案内のメールを送信しました" in client.get("/account/login").get_data(as_text=True)

    user = _user(db_session, "hanako@example.jp")
    assert user is not None and user.role is UserRole.DONOR and user.name == "信州 花子"
    assert not user.is_confirmed
    assert verify_password(user, NEW_PASSWORD), "the password is stored exactly as typed"
    assert not verify_password(user, NEW_PASSWORD.strip()), "no trimming"

    assert send_mail()["sent"] == 1
    [message] = mailbox
    assert message["To"] == "hanako@example.jp"
    assert "メールアドレスの確認" in message["Subject"]
    path = mail_path(message, "/account/confirm/")
    raw = path.rsplit("/", 1)[1]
    token = db_session.scalars(select(AccountToken).where(AccountToken.user_id == user.id)).one()
    assert token.purpose is TokenPurpose.CONFIRM_EMAIL
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest() != raw, "only the hash is stored"

    assert client.get(path).status_code == 302
    assert _user(db_session, "hanako@example.jp").is_confirmed
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "accounts.email_confirmed")) is not None


def test_signup_with_a_registered_address_looks_identical_and_warns_the_owner(
    app, client, db_session, mailbox, send_mail, mail_links
):
    owner = make_user(db_session, "taken@example.jp", name="既存 太郎")
    db_session.commit()
    other = app.test_client()

    new = _sign_up(client, "fresh@example.jp")
    taken = _sign_up(other, " TAKEN@example.jp")
    assert (taken.status_code, taken.headers["Location"]) == (new.status_code, new.headers["Location"])
    assert taken.get_data() == new.get_data()
    flash_new = client.get("/account/login").get_data(as_text=True)
    flash_taken = other.get("/account/login").get_data(as_text=True)
    assert _flashes(flash_taken) == _flashes(flash_new) != []

    assert db_session.scalar(select(func.count()).select_from(User).where(User.email == "taken@example.jp")) == 1
    assert verify_password(db_session.get(User, owner.id), PASSWORD), "the owner's password is untouched"

    send_mail()
    by_address = {m["To"]: m for m in mailbox}
    assert set(by_address) == {"fresh@example.jp", "taken@example.jp"}
    warning = by_address["taken@example.jp"]
    assert "登録済み" in warning["Subject"]
    links = mail_links(warning)
    assert any(link.endswith("/account/login") for link in links)
    assert any(link.endswith("/account/password/forgot") for link in links)
    assert not any("/account/confirm/" in link for link in links)
    assert "既存 太郎" in warning.get_body(("plain",)).get_content()


def _flashes(html: str) -> list[str]:
    import re

    return re.findall(r'<p class="flash[^"]*">([^<]*)</p>', html)


def test_signup_validation_errors_are_japanese_and_create_nothing(client, db_session):
    cases = [
        ({"email": "not-an-address"}, "メールアドレスの形式が正しくありません"),
        ({"password": "1234567", "password_confirm": "1234567"}, "8文字以上"),
        ({"password_confirm": "something else"}, "一致しません"),
        ({"email": ""}, "メールアドレスを入力してください"),
    ]
    for change, message in cases:
        data = {"email": "valid@example.jp", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, **change}
        response = post_form(client, SIGNUP, data, token_page=SIGNUP)
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    assert _user(db_session, "valid@example.jp") is None


def test_password_of_exactly_the_minimum_length_is_accepted(client, db_session):
    assert _sign_up(client, "short@example.jp", password="12345678").status_code == 302
    assert _user(db_session, "short@example.jp") is not None


def test_reused_confirmation_link_says_already_confirmed(client, db_session, send_mail, mailbox, mail_path):
    _sign_up(client, "twice@example.jp")
    send_mail()
    path = mail_path(mailbox[0], "/account/confirm/")
    assert client.get(path).status_code == 302
    again = client.get(path, follow_redirects=True)
    assert again.status_code == 200
    assert "確認済みです" in again.get_data(as_text=True)


def test_expired_confirmation_link_changes_nothing(client, db_session, send_mail, mailbox, mail_path, time_machine):
    time_machine.move_to(utcnow(), tick=True)
    _sign_up(client, "late@example.jp")
    send_mail()
    path = mail_path(mailbox[0], "/account/confirm/")
    time_machine.shift(timedelta(hours=client.application.config["CONFIRM_TOKEN_HOURS"], minutes=1))
    response = client.get(path)
    assert response.status_code == 400
    assert "有効期限が切れています" in response.get_data(as_text=True)
    assert not _user(db_session, "late@example.jp").is_confirmed
    token = db_session.scalars(select(AccountToken)).one()
    assert token.used_at is None


def test_unknown_confirmation_token_is_refused(client):
    response = client.get("/account/confirm/not-a-real-token")
    assert response.status_code == 400
    assert "このリンクは無効です" in response.get_data(as_text=True)


def test_unconfirmed_user_can_log_in_is_told_to_confirm_and_can_resend(
    client, db_session, send_mail, mailbox, mail_path
):
    user = make_user(db_session, "pending@example.jp", confirmed=False)
    db_session.commit()
    response = login(client, user.email)
    assert response.status_code == 302
    profile = client.get("/account/profile").get_data(as_text=True)
    assert "メールアドレスの確認が済んでいません" in profile
    assert "確認メールを再送する" in profile

    resent = post_form(client, "/account/confirmation/resend", token_page="/account/profile")
    assert resent.status_code == 302
    send_mail()
    [message] = mailbox
    assert message["To"] == "pending@example.jp"
    assert client.get(mail_path(message, "/account/confirm/")).status_code == 302
    assert "確認メールを再送する" not in client.get("/account/profile").get_data(as_text=True)


def test_signed_in_user_is_sent_from_signup_to_profile(client, db_session):
    user = make_user(db_session)
    db_session.commit()
    login(client, user.email)
    response = client.get(SIGNUP)
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"


def test_confirming_claims_gifts_made_as_a_guest_with_that_address(client, db_session, send_mail, mailbox, mail_path):
    from kyodo_fund.donations.models import Donation
    from tests.factories import make_donation

    guest_gift = make_donation(db_session, donor_email="guest@example.jp")
    someone_else = make_donation(db_session, donor_email="other@example.jp")
    db_session.commit()
    _sign_up(client, "Guest@example.jp")
    send_mail()
    assert db_session.get(Donation, guest_gift.id).user_id is None, "not before the address is proven"
    client.get(mail_path(mailbox[0], "/account/confirm/"))
    user = _user(db_session, "guest@example.jp")
    assert db_session.get(Donation, guest_gift.id).user_id == user.id
    assert db_session.get(Donation, someone_else.id).user_id is None
