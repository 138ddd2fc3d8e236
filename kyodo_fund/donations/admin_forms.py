"""Administrator forms: an offline gift, a grant payment, and the two steps of the CSV import.

Field names of the offline gift are the CSV columns, so one set of service checks reports on both."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from kyodo_fund.donations.models import ReceiptPreference
from kyodo_fund.money import parse_yen

REQUIRED = _l("入力してください。")

METHOD_CHOICES = [
    SelectChoice("bank_transfer", _l("銀行振込")),
    SelectChoice("cash", _l("現金")),
    SelectChoice("other", _l("その他")),
]
RECEIPT_CHOICES = [
    SelectChoice(ReceiptPreference.PER_DONATION.value, _l("寄附ごとに発行")),
    SelectChoice(ReceiptPreference.ANNUAL.value, _l("年間でまとめて発行")),
]


def _strip(value: str | None) -> str:
    return (value or "").strip()


def _too_long(n: int) -> Length:
    return Length(max=n, message=_l("%(max)d文字以内で入力してください。", max=n))


class YenField(StringField):
    """Whole yen as people type them ("10,000", "¥3000", full-width digits); ``data`` is an int or None."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.raw_text = valuelist[0] if valuelist else ""
        self.data = None
        if self.raw_text.strip():
            try:
                self.data = parse_yen(self.raw_text)
            except ValueError:
                raise ValueError(_l("金額は円単位の整数で入力してください（例: 10000）。")) from None

    def _value(self) -> str:
        return getattr(self, "raw_text", "") if self.data is None else str(self.data)


class PositiveYen:
    """Required, and at least ¥1 (a malformed amount already has its own message from ``YenField``)."""

    field_flags = {"required": True}

    def __call__(self, form: FlaskForm, field: YenField) -> None:
        if field.process_errors:
            return
        if field.data is None:
            raise ValidationError(REQUIRED)
        if field.data < 1:
            raise ValidationError(_l("1円以上の金額を入力してください。"))


positive_yen = PositiveYen()


class OfflineDonationForm(FlaskForm):
    received_on = DateField(_l("受領日"), validators=[InputRequired(REQUIRED)])
    amount_yen = YenField(_l("金額（円）"), validators=[positive_yen])
    method = SelectField(_l("受領方法"), choices=METHOD_CHOICES, validators=[DataRequired(REQUIRED)])
    #: Choices (project slugs, "" = the general fund) are set by the view.
    project = SelectField(_l("寄附先"), choices=[])
    anonymous = BooleanField(_l("匿名の寄附（募金箱など、寄附者が分からない）"))
    donor_name = StringField(_l("寄附者の氏名・名称"), filters=[_strip], validators=[_too_long(100)])
    donor_kana = StringField(_l("ふりがな"), filters=[_strip], validators=[_too_long(100)])
    postal_code = StringField(_l("郵便番号"), filters=[_strip], validators=[_too_long(8)])
    address = StringField(_l("住所"), filters=[_strip], validators=[_too_long(300)])
    email = EmailField(_l("メールアドレス"), filters=[_strip], validators=[_too_long(254)])
    household = StringField(
        _l("世帯（生計を一にする寄附者に共通の目印）"), filters=[_strip], validators=[_too_long(100)]
    )
    receipt_preference = SelectField(
        _l("領収書"), choices=RECEIPT_CHOICES, default=ReceiptPreference.PER_DONATION.value
    )


class GrantForm(FlaskForm):
    amount_yen = YenField(_l("助成額（円）"), validators=[positive_yen])
    paid_on = DateField(_l("支払日"), validators=[InputRequired(REQUIRED)])
    bank_reference = StringField(
        _l("振込の参照番号"), filters=[_strip], validators=[DataRequired(REQUIRED), _too_long(100)]
    )
    memo = TextAreaField(_l("メモ"), filters=[_strip], validators=[Optional(), _too_long(500)])


class ImportUploadForm(FlaskForm):
    csv_file = FileField(_l("CSVファイル"), validators=[FileRequired(_l("ファイルを選んでください。"))])


class ImportConfirmForm(FlaskForm):
    token = HiddenField()
