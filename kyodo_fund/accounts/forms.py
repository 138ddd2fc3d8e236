from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, PasswordField, SelectChoice, SelectField, StringField, TelField
from wtforms.validators import AnyOf, Email, EqualTo, InputRequired, Length, Optional, ValidationError

from kyodo_fund.accounts.services import (
    KANA_PATTERN,
    PHONE_PATTERN,
    POSTAL_PATTERN,
    normalise_kana,
    normalise_phone,
    normalise_postal_code,
)

LANGUAGE_CHOICES = [
    SelectChoice("ja", "日本語", render_kw={"lang": "ja"}),
    SelectChoice("en", "English", render_kw={"lang": "en"}),
]


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _when_given(normalise: Callable[[str], str]) -> Callable[[str | None], str | None]:
    return lambda value: normalise(value) if value else value


def _required(what: str) -> InputRequired:
    return InputRequired(message=_l("%(what)sを入力してください。", what=what))


def _too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("%(max)d文字以内で入力してください。", max=limit))


def _password_long_enough(_form: FlaskForm, field: Field) -> None:
    # Length only: no composition rules and no trimming (OWASP ASVS 6.2).
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(field.data or "") < minimum:
        raise ValidationError(_("パスワードは%(min)d文字以上にしてください。", min=minimum))


def _email_field(autocomplete: str = "email") -> EmailField:
    return EmailField(
        _l("メールアドレス"),
        filters=[_strip],
        validators=[
            _required(_l("メールアドレス")),
            Email(message=_l("メールアドレスの形式が正しくありません。")),
            _too_long(254),
        ],
        render_kw={"autocomplete": autocomplete, "inputmode": "email", "spellcheck": "false"},
    )


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        _l("新しいパスワード"),
        validators=[_required(_l("パスワード")), _password_long_enough, _too_long(1000)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("新しいパスワード（確認）"),
        validators=[
            _required(_l("確認用のパスワード")),
            EqualTo("password", message=_l("パスワードと確認用のパスワードが一致しません。")),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class SignupForm(FlaskForm):
    email = _email_field()
    password, password_confirm = _new_password_fields()
    name = StringField(
        _l("お名前"), filters=[_strip], validators=[Optional(), _too_long(100)], render_kw={"autocomplete": "name"}
    )


class LoginForm(FlaskForm):
    # No format check: a malformed address gets the same answer as any other failed login.
    email = EmailField(
        _l("メールアドレス"),
        validators=[_required(_l("メールアドレス")), _too_long(254)],
        render_kw={"autocomplete": "username", "inputmode": "email", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("パスワード"), validators=[_required(_l("パスワード"))], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField(_l("ログインしたままにする"))


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password, password_confirm = _new_password_fields()


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("現在のパスワード"),
        validators=[_required(_l("現在のパスワード"))],
        render_kw={"autocomplete": "current-password"},
    )
    password, password_confirm = _new_password_fields()


def check_kana(_form: FlaskForm, field: Field) -> None:
    if field.data and not KANA_PATTERN.fullmatch(field.data):
        raise ValidationError(_("フリガナはカタカナ（またはひらがな）で入力してください。"))


def check_postal_code(_form: FlaskForm, field: Field) -> None:
    if field.data and not POSTAL_PATTERN.fullmatch(field.data):
        raise ValidationError(_("郵便番号は「123-4567」または「1234567」の形で入力してください。"))


def check_phone(_form: FlaskForm, field: Field) -> None:
    # Domestic numbers: 10 digits (landline) or 11 (mobile, IP phone), starting with 0.
    if not field.data:
        return
    digits = field.data.replace("-", "")
    if not PHONE_PATTERN.fullmatch(field.data) or not digits.startswith("0") or len(digits) not in (10, 11):
        raise ValidationError(_("電話番号は0から始まる10桁または11桁の数字で入力してください（ハイフン可）。"))


class ProfileForm(FlaskForm):
    name = StringField(_l("お名前"), filters=[_strip], validators=[_too_long(100)], render_kw={"autocomplete": "name"})
    name_kana = StringField(
        _l("フリガナ"), filters=[_when_given(normalise_kana)], validators=[_too_long(100), check_kana]
    )
    postal_code = StringField(
        _l("郵便番号"),
        filters=[_when_given(normalise_postal_code)],
        validators=[check_postal_code],
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric"},
    )
    address = StringField(
        _l("住所"), filters=[_strip], validators=[_too_long(300)], render_kw={"autocomplete": "street-address"}
    )
    phone = TelField(
        _l("電話番号"),
        filters=[_when_given(normalise_phone)],
        validators=[_too_long(20), check_phone],
        render_kw={"autocomplete": "tel"},
    )
    locale = SelectField(
        _l("表示言語"),
        choices=LANGUAGE_CHOICES,
        validate_choice=False,
        validators=[AnyOf([choice.value for choice in LANGUAGE_CHOICES], message=_l("表示言語を選んでください。"))],
    )
