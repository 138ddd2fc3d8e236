from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from kyodo_fund.money import parse_yen
from kyodo_fund.projects.models import PARTNER_TYPE_LABELS, PHASE_LABELS, ReportKind

REQUIRED = _l("入力してください。")
#: Largest amount a project form accepts (¥10 billion): keeps integers and pages sane.
MAX_YEN = 10**10


def category_choices() -> list[tuple[int, str]]:
    from kyodo_fund.orgs.data import ACTIVITY_CATEGORIES

    return [(c.number, f"{c.number}. {c.label}") for c in ACTIVITY_CATEGORIES]


def municipality_choices() -> dict[str, list[tuple[str, str]]]:
    from kyodo_fund.orgs.data import municipality_choices as grouped

    return grouped()


def _flat_municipalities() -> list[tuple[str, str]]:
    from kyodo_fund.orgs.data import MUNICIPALITIES

    return [(m.code, m.name) for m in MUNICIPALITIES]


class YenField(StringField):
    """Whole yen as people type them (``12,345``, ``￥3,000``, full-width digits)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "autocomplete": "off"})
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = valuelist[0].strip() if valuelist else ""
        self.data = None
        if not raw:
            return
        try:
            value = parse_yen(raw)
        except ValueError:
            raise ValueError(_("1円以上の整数（円）で入力してください（例: 300,000）。")) from None
        if not 0 < value < MAX_YEN:
            raise ValueError(_("1円以上、100億円未満で入力してください。"))
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:,}"


def _date(label: Any, **kwargs: Any) -> DateField:
    return DateField(label, validators=[InputRequired(REQUIRED)], format="%Y-%m-%d", **kwargs)


class ProjectForm(FlaskForm):
    title = StringField(_l("事業名"), validators=[DataRequired(REQUIRED), Length(max=200)])
    slug = StringField(
        _l("URL用の英字名（任意）"),
        validators=[Optional(), Length(min=3, max=60)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    summary = TextAreaField(
        _l("概要（200文字以内）"),
        validators=[DataRequired(REQUIRED), Length(max=200, message=_l("200文字以内にしてください。"))],
        render_kw={"rows": 3, "maxlength": 200},
    )
    body = TextAreaField(_l("事業の説明"), validators=[Length(max=20000)], render_kw={"rows": 12})
    activity_category = SelectField(
        _l("活動分野"), choices=category_choices, coerce=int, validators=[InputRequired(REQUIRED)]
    )
    municipality_code = SelectField(
        _l("実施する市町村"), choices=municipality_choices, validators=[InputRequired(REQUIRED)]
    )
    goal_yen = YenField(_l("目標金額（円）"), validators=[InputRequired(REQUIRED)])
    starts_on = _date(_l("寄附の募集開始日"))
    ends_on = _date(_l("寄附の募集終了日（事業の終了日）"))
    cover = FileField(_l("カバー画像（PNG・JPEG、2MBまで・任意）"), render_kw={"accept": "image/png,image/jpeg"})
    remove_cover = BooleanField(_l("カバー画像を削除する"))

    def validate_ends_on(self, field: DateField) -> None:
        if field.data and self.starts_on.data and field.data < self.starts_on.data:
            raise ValidationError(_("終了日は開始日と同じか、それより後にしてください。"))

    def values(self) -> dict[str, Any]:
        return {
            "title": self.title.data,
            "slug": self.slug.data or "",
            "summary": self.summary.data,
            "body": self.body.data or "",
            "activity_category": int(self.activity_category.data),
            "municipality_code": self.municipality_code.data,
            "goal_yen": self.goal_yen.data,
            "starts_on": self.starts_on.data,
            "ends_on": self.ends_on.data,
        }


class TargetForm(FlaskForm):
    indicator = StringField(_l("指標（何を）"), validators=[DataRequired(REQUIRED), Length(max=200)])
    target_value = IntegerField(
        _l("目標値"),
        validators=[InputRequired(_l("整数で入力してください。")), NumberRange(min=0, max=10**12)],
        render_kw={"inputmode": "numeric"},
    )
    unit = StringField(_l("単位（食、人、回 など）"), validators=[DataRequired(REQUIRED), Length(max=20)])
    due_on = _date(_l("期日"))


class PartnerForm(FlaskForm):
    name = StringField(_l("団体・機関の名称"), validators=[DataRequired(REQUIRED), Length(max=200)])
    partner_type = SelectField(
        _l("種別"), choices=[(k.value, v) for k, v in PARTNER_TYPE_LABELS.items()], validators=[InputRequired(REQUIRED)]
    )
    role = StringField(_l("役割"), validators=[DataRequired(REQUIRED), Length(max=300)])


class BudgetLineForm(FlaskForm):
    item = StringField(_l("費目"), validators=[DataRequired(REQUIRED), Length(max=200)])
    amount_yen = YenField(_l("金額（円）"), validators=[InputRequired(REQUIRED)])


class PhaseForm(FlaskForm):
    phase = SelectField(_l("新しい段階"), choices=[(k.value, v) for k, v in PHASE_LABELS.items()])
    note = StringField(_l("ひとこと（公開されます・任意）"), validators=[Optional(), Length(max=300)])


class FlagsForm(FlaskForm):
    tax_excluded = BooleanField(_l("税制優遇の対象外（領収書に寄附金控除の文言を載せない）"))


class ReportForm(FlaskForm):
    """Fields ``achieved_<target id>`` are added per outcome target by ``report_form``."""

    kind = SelectField(
        _l("報告の種類"),
        choices=[
            (ReportKind.PROGRESS.value, _l("活動報告")),
            (ReportKind.EVALUATION.value, _l("評価報告（成果目標の達成値）")),
        ],
    )
    title = StringField(_l("タイトル"), validators=[DataRequired(REQUIRED), Length(max=200)])
    body = TextAreaField(_l("本文"), validators=[DataRequired(REQUIRED), Length(max=20000)], render_kw={"rows": 10})

    def achieved_fields(self) -> list[tuple[Any, Any]]:
        return [(self[name], target) for name, target in getattr(self, "_targets", {}).items()]

    def achieved(self) -> dict[int, int | None]:
        return {target.id: self[name].data for name, target in getattr(self, "_targets", {}).items()}

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.kind.data == ReportKind.EVALUATION.value:
            for field, _target in self.achieved_fields():
                if field.data is None and not field.errors:
                    field.errors = [*field.errors, _("評価報告では達成値を入力してください。")]
                    ok = False
        return ok


def report_form(targets: list[Any], **kwargs: Any) -> ReportForm:
    """A ``ReportForm`` with one optional whole-number field per outcome target."""

    class _Form(ReportForm):
        pass

    names = {}
    for target in targets:
        name = f"achieved_{target.id}"
        setattr(
            _Form,
            name,
            IntegerField(
                _l(
                    "%(indicator)s の達成値（%(unit)s、目標 %(value)s）",
                    indicator=target.indicator,
                    unit=target.unit,
                    value=f"{target.target_value:,}",
                ),
                validators=[Optional(), NumberRange(min=0, max=10**12)],
                render_kw={"inputmode": "numeric"},
            ),
        )
        names[name] = target
    form = _Form(**kwargs)
    form._targets = names
    return form


class SearchForm(FlaskForm):
    """The public list's filters, submitted by GET so every result is a link."""

    class Meta:
        csrf = False

    q = StringField(_l("キーワード"), validators=[Optional(), Length(max=100)], render_kw={"type": "search"})
    category = SelectField(
        _l("活動分野"),
        choices=lambda: [("", _l("すべて")), *((str(n), label) for n, label in category_choices())],
        validate_choice=False,
    )
    municipality = SelectField(
        _l("市町村"), choices=lambda: [("", _l("すべて")), *_flat_municipalities()], validate_choice=False
    )
    status = SelectField(
        _l("募集状況"),
        choices=[("published", _l("募集中")), ("closed", _l("募集終了")), ("all", _l("すべて"))],
        default="published",
        validate_choice=False,
    )
    sort = SelectField(
        _l("並び順"),
        choices=[("new", _l("新着順")), ("ending", _l("終了が近い順")), ("funded", _l("達成率の高い順"))],
        default="new",
        validate_choice=False,
    )
