"""The donation form, the monthly-amount change, and the administrators' refund form.

Amounts are parsed on the server only (``checkout.parse_amount``): whatever the browser sends,
decimals, negatives, exponents and words are refused with a Japanese message.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
    RadioField,
    SelectChoice,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import AnyOf, Email, InputRequired, Length, Optional, ValidationError

from kyodo_fund.accounts.forms import check_kana, check_phone, check_postal_code
from kyodo_fund.accounts.services import (
    normalise_kana,
    normalise_phone,
    normalise_postal_code,
)
from kyodo_fund.donations.checkout import AmountError, parse_amount
from kyodo_fund.donations.models import ReceiptPreference

CUSTOM = "custom"
FREQUENCIES = [SelectChoice("one_off", _l("今回のみ")), SelectChoice("monthly", _l("毎月（クレジットカード）"))]
RECEIPT_CHOICES = [
    SelectChoice(ReceiptPreference.PER_DONATION.value, _l("寄附のたびに発行")),
    SelectChoice(ReceiptPreference.ANNUAL.value, _l("1年分をまとめて発行（翌年1月）")),
]


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _lower(value: str | None) -> str | None:
    return value.strip().lower() if isinstance(value, str) else value


def _when_given(normalise: Callable[[str], str]) -> Callable[[str | None], str | None]:
    return lambda value: normalise(value) if value else value


def _required(what: object) -> InputRequired:
    return InputRequired(message=_l("%(what)sを入力してください。", what=what))


def _too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("%(max)d文字以内で入力してください。", max=limit))


def _amount_field(label: object) -> StringField:
    # Text, not a number input: the server decides what an amount is, and "3,000" or "３０００" are fine.
    return StringField(
        label, filters=[_strip], render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 20}
    )


class GiveForm(FlaskForm):
    preset = RadioField(_l("寄附する金額"), validate_choice=False)
    custom_amount = _amount_field(_l("金額を入力（円）"))
    frequency = RadioField(
        _l("寄附の頻度"),
        choices=FREQUENCIES,
        default="one_off",
        validate_choice=False,
        validators=[AnyOf([choice.value for choice in FREQUENCIES], message=_l("寄附の頻度を選んでください。"))],
    )
    name = StringField(
        _l("お名前"),
        filters=[_strip],
        validators=[_required(_l("お名前")), _too_long(100)],
        render_kw={"autocomplete": "name"},
    )
    name_kana = StringField(
        _l("フリガナ"),
        filters=[_when_given(normalise_kana)],
        validators=[_required(_l("フリガナ")), _too_long(100), check_kana],
    )
    postal_code = StringField(
        _l("郵便番号"),
        filters=[_when_given(normalise_postal_code)],
        validators=[_required(_l("郵便番号")), check_postal_code],
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric"},
    )
    address = StringField(
        _l("住所"),
        filters=[_strip],
        validators=[_required(_l("住所")), _too_long(300)],
        render_kw={"autocomplete": "street-address"},
    )
    email = EmailField(
        _l("メールアドレス"),
        filters=[_lower],
        validators=[
            _required(_l("メールアドレス")),
            Email(message=_l("メールアドレスの形式が正しくありません。")),
            _too_long(254),
        ],
        render_kw={"autocomplete": "email", "inputmode": "email", "spellcheck": "false"},
    )
    phone = TelField(
        _l("電話番号（任意）"),
        filters=[_when_given(normalise_phone)],
        validators=[Optional(), _too_long(20), check_phone],
        render_kw={"autocomplete": "tel"},
    )
    receipt_preference = RadioField(
        _l("領収書の発行"),
        choices=RECEIPT_CHOICES,
        validate_choice=False,
        validators=[
            Optional(),
            AnyOf([choice.value for choice in RECEIPT_CHOICES], message=_l("領収書の発行方法を選んでください。")),
        ],
    )
    public_name = BooleanField(_l("寄附者としてお名前を事業ページに掲載してよい"))
    message = TextAreaField(
        _l("団体へのメッセージ（任意）"), filters=[_strip], validators=[Optional(), _too_long(1000)]
    )
    #: Honeypot: hidden by CSS, people leave it empty; a filled one means a bot (card testing).
    website = StringField(_l("この欄は空のままにしてください"), render_kw={"autocomplete": "off", "tabindex": "-1"})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        presets = current_app.config["DONATION_PRESETS_YEN"]
        self.preset.choices = [SelectChoice(str(p), f"¥{p:,}") for p in presets] + [
            SelectChoice(CUSTOM, _l("その他の金額"))
        ]
        if self.preset.data is None:
            self.preset.data = str(presets[0])
        self.amount_yen: int | None = None

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        choice = self.preset.data
        if choice == CUSTOM:
            self.amount_yen = self._parse(self.custom_amount)
        elif choice in {c.value for c in self.preset.choices}:
            self.amount_yen = self._parse(self.preset, choice)
        else:
            self.preset.errors.append(_l("金額を選んでください。"))
        return ok and self.amount_yen is not None

    def _parse(self, field: Field, text: str | None = None) -> int | None:
        try:
            return parse_amount(field.data if text is None else text, current_app.config)
        except AmountError as exc:
            field.errors = [*field.errors, exc.message]
            return None

    @property
    def monthly(self) -> bool:
        return self.frequency.data == "monthly"


class ChangeAmountForm(FlaskForm):
    amount = _amount_field(_l("新しい月額（円）"))

    def validate_amount(self, field: Field) -> None:
        try:
            self.amount_yen = parse_amount(field.data, current_app.config)
        except AmountError as exc:
            raise ValidationError(exc.message) from exc


class RefundForm(FlaskForm):
    amount = _amount_field(_l("返金する金額（円）"))
    reason = TextAreaField(_l("返金の理由"), filters=[_strip], validators=[_required(_l("返金の理由")), _too_long(500)])
    #: Made when the form is shown: a resubmission of the same form reuses Stripe's idempotency key.
    request_key = HiddenField()
