from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from kyodo_fund.orgs import corporate_number
from kyodo_fund.orgs.data import ACTIVITY_CATEGORIES, LegalForm, municipality_choices
from kyodo_fund.orgs.models import ORG_FIELD_LABELS as L
from kyodo_fund.orgs.models import DocumentKind, MemberRole, OfficerTitle
from kyodo_fund.orgs.services import parse_strengths, slug_problem, strengths_problem

REQUIRED = _l("入力してください。")
KANA_RE = re.compile(r"^[ァ-ヶー・ 　]+$")
POSTAL_RE = re.compile(r"^\d{3}-?\d{4}$")
PHONE_RE = re.compile(r"^0\d{1,4}-?\d{1,4}-?\d{3,4}$")


def _nfkc(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def _strip(value: str | None) -> str:
    return (value or "").strip()


def _int_or_none(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


def _too_long(n: int) -> Length:
    return Length(max=n, message=_l("%(max)d文字以内で入力してください。", max=n))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class OrgForm(FlaskForm):
    name = StringField(L["name"], filters=[_strip], validators=[DataRequired(REQUIRED), _too_long(200)])
    name_kana = StringField(L["name_kana"], filters=[_strip], validators=[Optional(), _too_long(200)])
    slug = StringField(L["slug"], filters=[lambda v: _nfkc(v).lower()], validators=[Optional(), _too_long(60)])
    legal_form = SelectField(
        L["legal_form"], choices=[(f.value, f.label) for f in LegalForm], validators=[DataRequired(REQUIRED)]
    )
    corporate_number = StringField(L["corporate_number"], filters=[corporate_number.normalise])
    representative_name = StringField(L["representative_name"], filters=[_strip], validators=[_too_long(100)])
    postal_code = StringField(L["postal_code"], filters=[_nfkc], validators=[Optional()])
    municipality_code = SelectField(L["municipality_code"], validate_choice=False)
    address = StringField(L["address"], filters=[_strip], validators=[_too_long(300)])
    activity_categories = MultiCheckboxField(
        L["activity_categories"], coerce=int, choices=[(c.number, c.label) for c in ACTIVITY_CATEGORIES]
    )
    strengths = StringField(L["strengths"], filters=[_strip])
    description = TextAreaField(L["description"], filters=[_strip], validators=[_too_long(4000)])
    website = URLField(L["website"], filters=[_strip], validators=[Optional(), _too_long(300)])
    email = EmailField(
        L["email"],
        filters=[_strip],
        validators=[Optional(), Email(_l("メールアドレスの形式が正しくありません。")), _too_long(254)],
    )
    phone = TelField(L["phone"], filters=[_nfkc], validators=[Optional()])
    fiscal_year_end_month = SelectField(
        L["fiscal_year_end_month"],
        coerce=_int_or_none,
        choices=[("", _l("選択してください"))] + [(str(m), _l("%(m)s月", m=m)) for m in range(1, 13)],
        validate_choice=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        groups = municipality_choices()
        self.municipality_code.choices = {"": [("", _l("選択してください"))], **groups}
        self._municipality_codes = {code for options in groups.values() for code, _ in options}

    def validate_name_kana(self, field: StringField) -> None:
        if field.data and not KANA_RE.match(field.data):
            raise ValidationError(_l("全角カタカナで入力してください。"))

    #: The slug the organisation already has (edit form): kept as is even if it is a generated ``org-<id>``.
    current_slug: str | None = None

    def validate_slug(self, field: StringField) -> None:
        if field.data and field.data != self.current_slug and (problem := slug_problem(field.data)):
            raise ValidationError(problem)

    def validate_corporate_number(self, field: StringField) -> None:
        if field.data and not corporate_number.is_valid(field.data):
            raise ValidationError(_l("法人番号が正しくありません（13桁の数字、先頭はチェックデジット）。"))

    def validate_postal_code(self, field: StringField) -> None:
        if not POSTAL_RE.match(field.data or ""):
            raise ValidationError(_l("郵便番号は「380-0000」の形式で入力してください。"))
        digits = field.data.replace("-", "")
        field.data = f"{digits[:3]}-{digits[3:]}"

    def validate_municipality_code(self, field: SelectField) -> None:
        if field.data and field.data not in self._municipality_codes:
            raise ValidationError(_l("長野県内の市町村を選んでください。"))

    def validate_strengths(self, field: StringField) -> None:
        if problem := strengths_problem(parse_strengths(field.data)):
            raise ValidationError(problem)

    def validate_website(self, field: URLField) -> None:
        parts = urlsplit(field.data)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in field.data):
            raise ValidationError(_l("http:// または https:// で始まるURLを入力してください。"))

    def validate_phone(self, field: TelField) -> None:
        if not PHONE_RE.match(field.data or ""):
            raise ValidationError(_l("電話番号は「026-000-0000」の形式で入力してください。"))

    def validate_fiscal_year_end_month(self, field: SelectField) -> None:
        if field.data is not None and not 1 <= field.data <= 12:
            raise ValidationError(_l("1月から12月の中から選んでください。"))

    def to_data(self) -> dict[str, Any]:
        return {name: field.data for name, field in self._fields.items() if name not in ("csrf_token",)}

    @classmethod
    def from_org(cls, org: Any) -> OrgForm:
        """The edit form, pre-filled from ``org`` (submitted form data wins on POST)."""
        initial = {name: getattr(org, name) or "" for name in ("name", "name_kana", "slug", "representative_name")}
        initial |= {name: getattr(org, name) or "" for name in ("postal_code", "address", "description")}
        initial |= {name: getattr(org, name) or "" for name in ("website", "email", "phone", "municipality_code")}
        initial |= {
            "legal_form": org.legal_form.value,
            "corporate_number": org.corporate_number or "",
            "activity_categories": list(org.activity_categories),
            "strengths": "、".join(org.strengths),
            "fiscal_year_end_month": org.fiscal_year_end_month,
        }
        form = cls(data=initial)
        form.current_slug = org.slug
        return form


class OfficerForm(FlaskForm):
    name = StringField(_l("氏名"), filters=[_strip], validators=[DataRequired(REQUIRED), _too_long(100)])
    title = SelectField(
        _l("役職"), choices=[(t.value, t.label) for t in OfficerTitle], validators=[DataRequired(REQUIRED)]
    )
    address = StringField(_l("住所または居所"), filters=[_strip], validators=[DataRequired(REQUIRED), _too_long(300)])
    household_label = StringField(_l("親族グループ"), filters=[_nfkc], validators=[Optional(), _too_long(20)])
    is_paid = BooleanField(_l("報酬を受けている"))


class DocumentForm(FlaskForm):
    kind = SelectField(
        _l("書類の種類"), choices=[(k.value, k.label) for k in DocumentKind], validators=[DataRequired(REQUIRED)]
    )
    file = FileField(_l("ファイル（PDF）"), validators=[FileRequired(_l("ファイルを選んでください。"))])


class InviteForm(FlaskForm):
    email = EmailField(
        _l("招待する方のメールアドレス"),
        filters=[lambda v: (v or "").strip().lower()],
        validators=[DataRequired(REQUIRED), Email(_l("メールアドレスの形式が正しくありません。")), _too_long(254)],
    )
    role = SelectField(
        _l("権限"),
        choices=[(MemberRole.STAFF.value, MemberRole.STAFF.label), (MemberRole.OWNER.value, MemberRole.OWNER.label)],
        default=MemberRole.STAFF.value,
    )
