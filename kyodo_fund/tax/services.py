"""Glue between configuration, the pure estimator and the sentences people read. No database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _

from kyodo_fund.money import format_yen
from kyodo_fund.tax import estimator
from kyodo_fund.tax.estimator import Donor, Estimate, EstimatorSettings, Gifts

#: Notes added by callers that know more than the estimator (the API's single-recipient form).
NOTE_DESIGNATION_IGNORED = "designation_ignored"
NOTE_JOREI_NOT_DESIGNATED = "jorei_not_designated"
NOTE_ASSUMED_NAGANO = "assumed_nagano"


def settings_from(config: Mapping[str, Any]) -> EstimatorSettings:
    return EstimatorSettings.from_config(config)


def simulate(gifts: Gifts, donor: Donor, config: Mapping[str, Any]) -> Estimate:
    return estimator.estimate(gifts, donor, settings_from(config))


def note_texts(codes: Iterable[str], settings: EstimatorSettings) -> list[str]:
    floor = format_yen(settings.floor_yen)
    texts = {
        estimator.NOTE_ESTIMATE_ONLY: _(
            "この結果は概算（目安）です。寄附金控除は確定申告で申請します（年末調整では受けられません）。"
            "実際の控除額は税務署・市町村の計算によります。"
        ),
        estimator.NOTE_BELOW_FLOOR: _(
            "対象となる寄附の合計が%(floor)s以下のため、所得税の控除はありません。", floor=floor
        ),
        estimator.NOTE_INCOME_CAP: _(
            "寄附の合計が総所得金額等の40%を超えています。超えた部分は控除の対象になりません。"
        ),
        estimator.NOTE_CREDIT_CAPPED: _("税額控除が所得税額の25%の上限に達しています。"),
        estimator.NOTE_NO_TAX_CAP: _(
            "所得税額が入力されていないため、税額控除の上限（所得税額の25%）を適用せずに計算しています。"
        ),
        estimator.NOTE_CHOOSE_ONE: _(
            "認定NPO法人や税額控除の証明を受けた公益法人への寄附は、所得控除と税額控除のどちらか一方を"
            "確定申告で選びます。"
        ),
        estimator.NOTE_PLAIN_IGNORED: _("認定等を受けていない団体への寄附は、寄附金控除の対象になりません。"),
        estimator.NOTE_RESIDENT_NEXT_YEAR: _(
            "住民税の寄附金税額控除は、翌年度の住民税から差し引かれます（確定申告または住民税の申告が必要です）。"
        ),
        estimator.NOTE_NOT_IN_NAGANO: _(
            "翌年1月1日に長野県内にお住まいでない場合、長野県・県内市町村の条例指定による住民税の控除は受けられません。"
        ),
        NOTE_DESIGNATION_IGNORED: _("認定・条例指定を受けていない団体のため、指定の有無は計算に使っていません。"),
        NOTE_JOREI_NOT_DESIGNATED: _(
            "条例指定団体への寄附ですが、県・市町村の指定がいずれも選ばれていないため、住民税の控除は0円です。"
        ),
        NOTE_ASSUMED_NAGANO: _("翌年1月1日に長野県内にお住まいであるものとして住民税の控除を計算しています。"),
    }
    return [texts[code] for code in codes]
