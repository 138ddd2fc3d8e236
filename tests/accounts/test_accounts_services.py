import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.accounts import services
from kyodo_fund.accounts.models import AccountToken, TokenPurpose, User
from kyodo_fund.audit import Actor
from kyodo_fund.extensions import db as database
from tests.factories import make_user


def test_tokens_are_single_use_and_purpose_bound(app_ctx, db_session):
    user = make_user(db_session)
    raw = services.issue_token(db_session, user, TokenPurpose.RESET_PASSWORD, timedelta(minutes=5))
    assert db_session.scalar(select(AccountToken.token_hash)) != raw
    with pytest.raises(services.TokenInvalid):
        services.check_token(db_session, raw, TokenPurpose.CONFIRM_EMAIL)
    assert services.check_token(db_session, raw, TokenPurpose.RESET_PASSWORD) is user, "checking does not use it"
    assert services.consume_token(db_session, raw, TokenPurpose.RESET_PASSWORD) is user
    with pytest.raises(services.TokenUsed) as used:
        services.consume_token(db_session, raw, TokenPurpose.RESET_PASSWORD)
    assert used.value.user_id == user.id
    with pytest.raises(services.TokenInvalid):
        services.consume_token(db_session, raw + "x", TokenPurpose.RESET_PASSWORD)


def test_expired_tokens_are_refused_and_left_unused(app_ctx, db_session, time_machine):
    time_machine.move_to(services.utcnow(), tick=False)
    user = make_user(db_session)
    raw = services.issue_token(db_session, user, TokenPurpose.CONFIRM_EMAIL, timedelta(hours=1))
    time_machine.shift(timedelta(minutes=59))
    services.check_token(db_session, raw, TokenPurpose.CONFIRM_EMAIL)
    time_machine.shift(timedelta(minutes=1))
    with pytest.raises(services.TokenExpired):
        services.consume_token(db_session, raw, TokenPurpose.CONFIRM_EMAIL)
    assert db_session.scalar(select(AccountToken.used_at)) is None


def test_two_simultaneous_uses_of_one_token_let_exactly_one_through(app, committed_db):
    user = make_user(committed_db)
    raw = services.issue_token(committed_db, user, TokenPurpose.RESET_PASSWORD, timedelta(minutes=5))
    committed_db.commit()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def use() -> None:
        with app.app_context():
            session = database.session_factory()
            try:
                barrier.wait()
                services.consume_token(session, raw, TokenPurpose.RESET_PASSWORD)
                session.commit()
                outcomes.append("ok")
            except services.TokenUsed:
                session.rollback()
                outcomes.append("used")
            finally:
                session.close()

    threads = [threading.Thread(target=use) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ok", "used"]


def test_simultaneous_sign_ups_with_one_address_create_one_account(app, committed_db):
    barrier = threading.Barrier(2)
    results: list[object] = []

    def sign_up() -> None:
        with app.app_context():
            session = database.session_factory()
            try:
                barrier.wait()
                user = services.sign_up(session, Actor(), email="race@example.jp", password="whatever1")
                session.commit()
                results.append(user is not None)
            finally:
                session.close()

    threads = [threading.Thread(target=sign_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, True], "one new account; the other request took the 'already registered' path"
    assert len(committed_db.scalars(select(User).where(User.email == "race@example.jp")).all()) == 1


def test_public_url_ignores_the_request_host(app):
    with app.test_request_context("/", base_url="http://attacker.example"):
        link = services.public_url("accounts.confirm", token="abc")
    assert link == app.config["PUBLIC_BASE_URL"] + "/account/confirm/abc"


def test_public_url_works_without_a_request(app):
    with app.app_context():
        assert services.public_url("accounts.login") == app.config["PUBLIC_BASE_URL"] + "/account/login"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("やまだ　はなこ", "ヤマダ ハナコ"),
        ("ﾔﾏﾀﾞ ﾊﾅｺ", "ヤマダ ハナコ"),
        ("  ヴァーチャル・ヨウコ ", "ヴァーチャル・ヨウコ"),
        ("ゆうこ ー", "ユウコ ー"),
    ],
)
def test_kana_is_normalised_to_full_width_katakana(raw, expected):
    assert services.normalise_kana(raw) == expected
    assert services.KANA_PATTERN.fullmatch(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3808570", "380-8570"), ("380-8570", "380-8570"), ("３８０－８５７０", "380-8570"), ("〒380ー8570", "380-8570")],
)
def test_postal_codes_are_stored_as_three_dash_four(raw, expected):
    assert services.normalise_postal_code(raw) == expected


def test_phone_numbers_take_full_width_digits_and_spaces():
    assert services.normalise_phone("０２６ ２３２ ０１１１") == "026-232-0111"


def test_email_fingerprint_is_stable_across_case_and_spaces():
    assert services.email_fingerprint(" A@Example.JP ") == services.email_fingerprint("a@example.jp")
