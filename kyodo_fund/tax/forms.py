"""The simulator form. It is submitted by GET so that a result is a link; nothing is stored."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, ValidationError

from kyodo_fund.money import parse_yen
from kyodo_fund.tax.estimator import Donor, Gifts

#: Largest amount accepted anywhere in the simulator (¥10 trillion): keeps arithmetic and pages sane.
MAX_YEN = 10**13
MARGINAL_RATES = (5, 10, 20, 23, 33, 40, 45)


class YenField(StringField):
    """Whole yen as people type them (``12,345``, ``￥3,000``, full-width digits). Blank is ``empty``."""

    def __init__(self, *args, empty: int | None = 0, **kwargs) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "autocomplete": "off"})
        super().__init__(*args, **kwargs)
        self.empty = empty

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = valuelist[0].strip() if valuelist else ""
        if not raw:
            self.data = self.empty
            return
        try:
            value = parse_yen(raw)
        except ValueError:
            self.data = None
            raise ValueError(_("0以上の整数（円）で入力してください（例: 12,345）。")) from None
        if value >= MAX_YEN:
            self.data = None
            raise ValueError(_("金額が大きすぎます。"))
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data:,}"


class SimulatorForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    total_income_yen = YenField(_l("総所得金額等（円）"), validators=[InputRequired(_l("入力してください。"))])
    income_tax_yen = YenField(_l("所得税額（円・分かれば）"), empty=None)
    marginal_rate_pct = SelectField(
        _l("所得税の税率（限界税率）"),
        choices=[SelectChoice(str(r), f"{r}%") for r in MARGINAL_RATES],
        default="10",
        validate_choice=False,  # WTForms' own message is English; ours is below
    )
    nintei_npo_yen = YenField(_l("認定NPO法人・特例認定NPO法人への寄附（円）"))
    koeki_cert_yen = YenField(_l("公益社団・財団法人（税額控除の証明あり）への寄附（円）"))
    koeki_yen = YenField(_l("公益社団・財団法人（税額控除の証明なし）への寄附（円）"))
    jorei_npo_yen = YenField(_l("条例指定NPO法人（認定なし）への寄附（円）"))
    plain_yen = YenField(_l("その他の団体への寄附（円）"))
    pref_designated_yen = YenField(_l("うち長野県が条例で指定する団体への寄附（円）"))
    muni_designated_yen = YenField(_l("うちお住まいの市町村が条例で指定する団体への寄附（円）"))
    lives_in_nagano = SelectField(
        _l("翌年1月1日に長野県内にお住まいですか"),
        choices=[SelectChoice("yes", _l("はい")), SelectChoice("no", _l("いいえ"))],
        default="yes",
        validate_choice=False,
    )

    def validate_marginal_rate_pct(self, field: SelectField) -> None:
        if field.data not in {str(r) for r in MARGINAL_RATES}:
            raise ValidationError(_("一覧から選んでください。"))

    def validate_lives_in_nagano(self, field: SelectField) -> None:
        if field.data not in {"yes", "no"}:
            raise ValidationError(_("一覧から選んでください。"))

    def _designable_yen(self) -> int:
        names = ("nintei_npo_yen", "koeki_cert_yen", "koeki_yen", "jorei_npo_yen")
        return sum(self[name].data or 0 for name in names)

    def validate_pref_designated_yen(self, field: YenField) -> None:
        if (field.data or 0) > self._designable_yen():
            raise ValidationError(_("認定・条例指定を受けた団体への寄附の合計を超えています。"))

    validate_muni_designated_yen = validate_pref_designated_yen

    def gifts(self) -> Gifts:
        return Gifts(
            nintei_npo_yen=self.nintei_npo_yen.data,
            koeki_cert_yen=self.koeki_cert_yen.data,
            koeki_yen=self.koeki_yen.data,
            jorei_npo_yen=self.jorei_npo_yen.data,
            plain_yen=self.plain_yen.data,
            pref_designated_yen=self.pref_designated_yen.data,
            muni_designated_yen=self.muni_designated_yen.data,
        )

    def donor(self) -> Donor:
        return Donor(
            total_income_yen=self.total_income_yen.data,
            income_tax_yen=self.income_tax_yen.data,
            marginal_rate_pct=int(self.marginal_rate_pct.data),
            lives_in_nagano=self.lives_in_nagano.data == "yes",
        )
