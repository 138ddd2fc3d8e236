from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from kyodo_fund.certification.models import RecordKind
from kyodo_fund.orgs.data import municipality_choices

REQUIRED = _l("入力してください。")
DATE_REQUIRED = _l("日付を入力してください（YYYY-MM-DD）。")
AMOUNT = _l("0円以上の整数で入力してください。")


def _strip(value: str | None) -> str:
    return (value or "").strip()


STEP_PREFIX = re.compile(r"^(legal|r(\d{1,12}))$")


class StepForm(FlaskForm):
    """One recorded step of the legal status (prefix ``legal``) or of record 12 (prefix ``r12``); the prefix keeps
    the ids of the several step forms on one page apart. The action is the pressed button."""

    effective_on = DateField(
        _l("効力の生じた日（受理日・通知日・登記日・提出日など）"), validators=[InputRequired(DATE_REQUIRED)]
    )
    notice_number = StringField(_l("通知の番号（指令番号など）"), filters=[_strip], validators=[Length(max=60)])
    document_ref = StringField(
        _l("書類の所在（文書番号・アップロード済み書類名）"), filters=[_strip], validators=[Length(max=200)]
    )
    note = TextAreaField(_l("理由・メモ"), filters=[_strip], validators=[Length(max=2000)])


class EstablishedForm(FlaskForm):
    established_on = DateField(_l("設立日（設立登記の日）"), validators=[InputRequired(DATE_REQUIRED)])
    note = StringField(_l("根拠（登記事項証明書など）"), filters=[_strip], validators=[Length(max=2000)])


class RecordForm(FlaskForm):
    kind = SelectField(
        _l("種類"), choices=[SelectChoice(k.value, k.label) for k in RecordKind], validators=[DataRequired(REQUIRED)]
    )
    granted_on = DateField(_l("認定日・指定の効力発生日"), validators=[InputRequired(DATE_REQUIRED)])
    notice_number = StringField(_l("通知の番号"), filters=[_strip], validators=[Length(max=60)])
    municipality_code = SelectField(_l("指定した市町村（市町村指定のみ）"), validate_choice=False)
    note = StringField(_l("メモ"), filters=[_strip], validators=[Length(max=2000)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.municipality_code.choices = [SelectChoice("", _l("（選択しない）"))] + [
            SelectChoice(value, label, optgroup=group)
            for group, options in municipality_choices().items()
            for value, label in options
        ]


class FilingForm(FlaskForm):
    fiscal_year_end = SelectField(_l("事業年度（決算日）"), validators=[DataRequired(REQUIRED)])
    filed_on = DateField(_l("所轄庁に提出した日"), validators=[InputRequired(DATE_REQUIRED)])


class RevenueForm(FlaskForm):
    fiscal_year_end = SelectField(_l("事業年度（決算日）"), validators=[DataRequired(REQUIRED)])
    total_revenue_yen = IntegerField(
        _l("総収入金額（円）"), validators=[InputRequired(AMOUNT), NumberRange(min=0, message=AMOUNT)]
    )
    excluded_revenue_yen = IntegerField(
        _l("控除する収入（国の補助金等・資産売却収入など、円）"),
        default=0,
        validators=[InputRequired(AMOUNT), NumberRange(min=0, message=AMOUNT)],
    )
    subsidy_yen = IntegerField(
        _l("うち国の補助金等（円、任意）"), validators=[Optional(), NumberRange(min=0, message=AMOUNT)]
    )


class PstCheckForm(FlaskForm):
    donations = FileField(_l("寄附のデータ（D.csv）"), validators=[FileRequired(_l("ファイルを選んでください。"))])
    officers = FileField(_l("役員のデータ（O.csv）"), validators=[FileRequired(_l("ファイルを選んでください。"))])
    revenue = FileField(_l("収入のデータ（R.csv、任意：相対値基準を判定します）"))
    fiscal_year_end_month = SelectField(
        _l("決算月"), choices=[SelectChoice(str(m), _l("%(m)d月", m=m)) for m in range(1, 13)], default="3"
    )
    as_of = DateField(_l("判定日（この日より前に終わった事業年度で判定）"), validators=[InputRequired(DATE_REQUIRED)])
    established_on = DateField(_l("設立日（任意：最初の事業年度がこの日から始まります）"), validators=[Optional()])
    renewal = BooleanField(_l("更新の申請（直近5事業年度で判定）"))


def step_form_from_request(formdata) -> tuple[StepForm, int | None] | None:
    """The step form a POST was made with, and its record id (None: the legal status); None if the prefix is bad."""
    match = STEP_PREFIX.match(formdata.get("step", ""))
    if match is None:
        return None
    return StepForm(prefix=match.group(1)), int(match.group(2)) if match.group(2) else None
