import pytest
from sqlalchemy import select

from kyodo_fund.accounts.models import User
from kyodo_fund.audit.models import AuditEntry
from tests.conftest import login, post_form
from tests.factories import make_user

PROFILE = "/account/profile"
VALID = {
    "name": "信州 花子",
    "name_kana": "シンシュウ ハナコ",
    "postal_code": "380-8570",
    "address": "長野県長野市大字南長野字幅下692-2",
    "phone": "026-232-0111",
    "locale": "ja",
}


@pytest.fixture
def signed_in(client, db_session):
    user = make_user(db_session, "profile@example.jp", name="旧姓 花子")
    db_session.commit()
    login(client, user.email)
    return user


def _save(client, **changes):
    return post_form(client, PROFILE, {**VALID, **changes}, token_page=PROFILE)


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login")


def test_profile_page_has_labels_and_the_purpose_notice_before_submit(client, signed_in):
    response = client.get(PROFILE)
    assert response.headers["Cache-Control"] == "no-store", "personal data stays out of shared caches"
    html = response.get_data(as_text=True)
    for name in VALID:
        assert f'<label for="{name}"' in html
    form_start = html.index('<form method="post">\n')
    assert form_start < html.index('class="purpose-notice"', form_start) < html.index('type="submit"', form_start)


def test_profile_is_saved_normalised_and_audited_without_values(client, db_session, signed_in):
    response = _save(
        client, name_kana="しんしゅう　はなこ", postal_code="３８０８５７０", phone="０９０－１２３４－５６７８"
    )
    assert response.status_code == 302
    user = db_session.get(User, signed_in.id)
    assert user.name == "信州 花子"
    assert user.name_kana == "シンシュウ ハナコ"
    assert user.postal_code == "380-8570"
    assert user.phone == "090-1234-5678"
    assert user.address == VALID["address"]
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "accounts.profile_updated"))
    assert set(entry.after["fields"]) == {"name", "name_kana", "postal_code", "address", "phone"}
    assert "花子" not in str(entry.after), "personal data stays out of the immutable log"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name_kana", "山田 花子", "フリガナはカタカナ"),
        ("name_kana", "Hanako", "フリガナはカタカナ"),
        ("postal_code", "38-08570", "郵便番号は「123-4567」"),
        ("postal_code", "380-857", "郵便番号は「123-4567」"),
        ("phone", "026-232-011x", "電話番号は0から始まる"),
        ("phone", "12345", "電話番号は0から始まる"),
        ("phone", "026--232-0111", "電話番号は0から始まる"),
        ("name", "長" * 101, "100文字以内"),
        ("locale", "fr", "表示言語を選んでください"),
    ],
)
def test_invalid_profile_rerenders_in_japanese_and_saves_nothing(client, db_session, signed_in, field, value, message):
    response = _save(client, **{field: value})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html
    assert "入力内容を確認してください" in html
    user = db_session.get(User, signed_in.id)
    assert (user.name, user.name_kana, user.postal_code, user.phone) == ("旧姓 花子", "", "", "")
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "accounts.profile_updated")) is None


def test_optional_fields_may_be_left_empty(client, db_session, signed_in):
    assert _save(client, name_kana="", postal_code="", phone="", address="").status_code == 302
    assert db_session.get(User, signed_in.id).name == "信州 花子"


def test_language_preference_switches_the_interface(client, db_session, signed_in):
    assert _save(client, locale="en").status_code == 302
    assert db_session.get(User, signed_in.id).locale == "en"
    assert '<html lang="en">' in client.get(PROFILE).get_data(as_text=True)


def test_extra_form_fields_cannot_change_role_or_email(client, db_session, signed_in):
    _save(client, role="admin", email="other@example.jp", session_version="99")
    user = db_session.get(User, signed_in.id)
    assert (user.role.value, user.email, user.session_version) == ("donor", "profile@example.jp", 1)
