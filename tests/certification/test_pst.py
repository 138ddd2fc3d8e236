"""The PST worked examples P1–P9 of certification.md §6, plus the unit and officer rules behind them."""

from __future__ import annotations

from datetime import date

import pytest

from kyodo_fund.certification.pst import (
    DonorYearTotal,
    FiscalRevenue,
    Gift,
    Officer,
    PstSettings,
    check_pst,
    group_gifts,
    judge_pst,
    link_households,
    normalise,
)
from kyodo_fund.certification.pst_result import EXCLUSION_LABELS, WARNING_MESSAGES, Exclusion
from kyodo_fund.certification.rules import judging_period

D = date
AS_OF = D(2026, 5, 1)  # FY = April–March: the period is FY2024 (to 2025-03-31) and FY2025 (to 2026-03-31)
FY2024, FY2025 = D(2025, 3, 31), D(2026, 3, 31)
IN_2024, IN_2025 = D(2024, 6, 1), D(2025, 6, 1)
TANAKA = "長野市南長野1-1"
SATO = "松本市丸の内3-3"


def check(gifts, **kw):
    kw.setdefault("fy_end_month", 3)
    kw.setdefault("as_of", AS_OF)
    return check_pst(gifts, **kw)


def counts(result) -> list[int]:
    return [fy.qualifying_donors for fy in result.absolute.fiscal_years]


def reasons(result) -> list[tuple[str, str]]:
    return [(e.donor_name, e.reason) for e in result.excluded]


def warning_counts(result) -> dict[str, int]:
    return {w["key"]: w["count"] for w in result.warnings}


def crowd(n: int, day: date, amount: int = 3_000, prefix: str = "寄附者") -> list[Gift]:
    return [Gift(day, amount, f"{prefix}{i}", f"上田市{prefix}{i}番地") for i in range(n)]


# --- P1 household ------------------------------------------------------------------------------------------------

P1 = [Gift(IN_2025, 2_000, "田中太郎", TANAKA, "田中家"), Gift(IN_2025, 1_500, "田中花子", TANAKA, "田中家")]


@pytest.mark.parametrize(("household_sum", "expected"), [(True, [0, 1]), (False, [0, 0])])
def test_p1_household_amounts_are_summed(household_sum, expected):
    result = check(P1, settings=PstSettings(household_sum=household_sum))
    assert counts(result) == expected
    assert warning_counts(result)["household_review"] == 1


@pytest.mark.parametrize("household_sum", [True, False])
def test_p1_two_members_over_the_threshold_still_count_once(household_sum):
    gifts = [Gift(IN_2025, 5_000, "田中太郎", TANAKA, "田中家"), Gift(IN_2025, 5_000, "田中花子", TANAKA, "田中家")]
    result = check(gifts, settings=PstSettings(household_sum=household_sum))
    assert counts(result) == [0, 1]
    assert result.absolute.fiscal_years[1].counted[0].donors == ("田中太郎", "田中花子")


def test_without_a_label_each_donor_is_its_own_unit():
    gifts = [Gift(IN_2025, 5_000, "田中太郎", TANAKA), Gift(IN_2025, 5_000, "田中花子", TANAKA)]
    assert counts(check(gifts)) == [0, 2]


def test_one_labelled_gift_puts_the_donor_in_the_household_for_every_gift():
    gifts = [
        Gift(IN_2025, 2_000, "田中太郎", TANAKA),
        Gift(D(2025, 9, 1), 500, "田中太郎", TANAKA, "田中家"),
        Gift(IN_2025, 1_000, "田中花子", TANAKA, "田中家"),
    ]
    result = check(gifts)
    assert counts(result) == [0, 1]
    assert result.absolute.fiscal_years[1].counted[0].amount_yen == 3_500


def test_identity_ignores_width_whitespace_and_case():
    assert normalise("  田中　太郎 ") == normalise("田中太郎")
    assert normalise("Ｔａｎａｋａ Ｔａｒｏ") == normalise("tanaka taro")
    gifts = [Gift(IN_2025, 2_000, "田中 太郎", "長野市南長野１－１"), Gift(IN_2025, 1_000, "田中太郎", TANAKA)]
    assert counts(check(gifts)) == [0, 1]


def test_household_labels_are_not_scoped_by_address_but_mixed_addresses_are_flagged():
    gifts = [
        Gift(IN_2025, 2_000, "田中太郎", TANAKA, "田中家"),
        Gift(IN_2025, 1_000, "田中一郎", "東京都文京区1", "田中家"),
    ]
    result = check(gifts)
    assert counts(result) == [0, 1]
    assert warning_counts(result) == {"household_review": 1, "household_multiple_addresses": 1}


# --- P2 officers -------------------------------------------------------------------------------------------------

P2_GIFTS = [Gift(IN_2025, 50_000, "佐藤一郎", SATO, "佐藤家"), Gift(IN_2025, 10_000, "佐藤花子", SATO, "佐藤家")]


@pytest.mark.parametrize(
    ("officer", "gifts"),
    [
        pytest.param(Officer("佐藤一郎", SATO), P2_GIFTS, id="officer-gave-in-the-household"),
        pytest.param(Officer("佐藤 一郎", SATO, "佐藤家"), P2_GIFTS, id="officer-with-label"),
        pytest.param(Officer("佐藤一郎", SATO, "佐藤家"), P2_GIFTS[1:], id="only-the-spouse-gave"),
        pytest.param(Officer("佐藤一郎"), P2_GIFTS, id="officer-without-address-matches-by-name"),
    ],
)
def test_p2_officer_and_household_are_excluded(officer, gifts):
    result = check([*gifts, *crowd(1, IN_2025)], officers=[officer])
    assert counts(result) == [0, 1]
    assert {(name, reason) for name, reason in reasons(result)} == {(g.donor_name, "officer") for g in gifts}


def test_officer_whose_own_gifts_are_outside_the_period_still_excludes_the_household():
    gifts = [Gift(D(2019, 6, 1), 10_000, "佐藤一郎", SATO, "佐藤家"), Gift(IN_2025, 10_000, "佐藤花子", SATO, "佐藤家")]
    officers = [Officer("佐藤一郎", SATO)]
    assert counts(check(gifts, officers=officers)) == [0, 0]
    # Rows alone (no directory) only know the period's donors: the caller must pass the directory.
    period = judging_period(3, AS_OF)
    directory = link_households(gifts)
    rows_only = judge_pst(group_gifts(gifts, period, directory), period=period, as_of=AS_OF, officers=officers)
    assert counts(rows_only) == [0, 1]
    with_directory = judge_pst(
        group_gifts(gifts, period), period=period, as_of=AS_OF, officers=officers, directory=directory
    )
    assert counts(with_directory) == [0, 0]


def test_officer_without_address_is_warned_about():
    result = check(P2_GIFTS, officers=[Officer("佐藤一郎")])
    assert warning_counts(result)["officer_missing_address"] == 1


def test_a_namesake_at_another_address_is_not_an_officer():
    result = check([Gift(IN_2025, 5_000, "佐藤一郎", "飯田市1")], officers=[Officer("佐藤一郎", SATO)])
    assert counts(result) == [0, 1]


@pytest.mark.parametrize(
    ("basis", "expected"),
    [("any_time_in_fy", [0, 0]), ("judging_date", [1, 1])],
)
def test_officer_basis(basis, expected):
    # Served until 2025-06-30: an officer during both fiscal years, but no longer on the judging date.
    officer = Officer("佐藤一郎", SATO, served_from=D(2020, 4, 1), served_to=D(2025, 6, 30))
    gifts = [Gift(IN_2024, 5_000, "佐藤一郎", SATO), Gift(D(2025, 12, 1), 5_000, "佐藤一郎", SATO)]
    assert counts(check(gifts, officers=[officer], settings=PstSettings(officer_basis=basis))) == expected


def test_officer_status_is_per_fiscal_year():
    officer = Officer("佐藤一郎", SATO, served_from=D(2025, 4, 1))
    gifts = [Gift(IN_2024, 5_000, "佐藤一郎", SATO), Gift(IN_2025, 5_000, "佐藤一郎", SATO)]
    assert counts(check(gifts, officers=[officer])) == [1, 0]


# --- P3 missing name or address ------------------------------------------------------------------------------------


def test_p3_donors_without_an_address_do_not_count_and_are_warned_about():
    gifts = [Gift(IN_2025, 10_000, "山田", ""), Gift(IN_2025, 20_000, "", "")]
    result = check(gifts)
    assert counts(result) == [0, 0]
    assert sorted(reasons(result)) == [("", "no_name_or_address"), ("山田", "no_name_or_address")]
    assert [e.amount_yen for e in sorted(result.excluded, key=lambda e: e.amount_yen)] == [10_000, 20_000]
    assert warning_counts(result) == {"missing_address": 1}
    assert result.warnings[0]["message"] == "住所のない寄附者が1名います（絶対値基準では数えません）"


def test_anonymous_gifts_are_excluded_even_with_name_and_address():
    result = check([Gift(IN_2025, 10_000, "山田", "諏訪市1", anonymous=True)])
    assert counts(result) == [0, 0]
    assert reasons(result) == [("山田", "anonymous")]


# --- P4 fiscal-year split --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [((D(2025, 3, 20), 2_000), (D(2025, 4, 5), 2_000), [0, 0]), ((IN_2024, 8_000), (IN_2025, 2_000), [1, 0])],
)
def test_p4_each_fiscal_year_stands_alone(first, second, expected):
    gifts = [Gift(day, amount, "鈴木", "岡谷市1") for day, amount in (first, second)]
    result = check(gifts)
    assert counts(result) == expected
    assert ("鈴木", "below_threshold") in reasons(result)


def test_gifts_outside_the_period_are_ignored():
    assert counts(check([*crowd(3, D(2024, 3, 31)), *crowd(2, D(2026, 4, 1))])) == [0, 0]


# --- P5–P7 averages ---------------------------------------------------------------------------------------------------


def rows(unit_counts: list[int], period) -> list[DonorYearTotal]:
    """Pre-aggregated rows as a SQL GROUP BY would return them: one donor per unit, ¥3,000 each."""
    return [
        DonorYearTotal(fy.end, f"d{fy.end}-{i}", "addr", f"d{i}", 3_000, unit_key=f"u{fy.end}-{i}")
        for fy, n in zip(period.fiscal_years, unit_counts, strict=True)
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("unit_counts", "renewal", "average", "passes"),
    [
        pytest.param([50, 150], False, 100, True, id="P5"),
        pytest.param([120, 110, 90, 80, 95], True, 99, False, id="P6"),
        pytest.param([100, 99], False, 99.5, False, id="just-under"),
    ],
)
def test_p5_p6_annual_average_over_pre_aggregated_rows(unit_counts, renewal, average, passes):
    period = judging_period(3, AS_OF, renewal=renewal)
    result = judge_pst(rows(unit_counts, period), period=period, as_of=AS_OF)
    assert counts(result) == unit_counts
    assert result.to_dict()["absolute"]["annual_average"] == average
    assert result.absolute.passes is passes


def test_p7_short_first_fiscal_year():
    gifts = [*crowd(30, D(2024, 12, 1), prefix="初年度"), *crowd(90, IN_2025)]
    result = check(gifts, established_on=D(2024, 10, 1))
    data = result.to_dict()
    assert data["period"] == {"start": "2024-10-01", "end": "2026-03-31", "months": 18, "required_fiscal_years": 2}
    assert [fy["months"] for fy in data["absolute"]["fiscal_years"]] == [6, 12]
    assert counts(result) == [30, 90]
    assert data["absolute"]["annual_average"] == 80
    assert data["absolute"]["passes"] is False


def test_fiscal_years_normalisation():
    period = judging_period(3, AS_OF, established_on=D(2024, 10, 1))
    settings = PstSettings(abs_normalise="fiscal_years")
    result = judge_pst(rows([30, 90], period), period=period, as_of=AS_OF, settings=settings)
    assert result.to_dict()["absolute"]["annual_average"] == 60


# --- P8, P9 relative standard -----------------------------------------------------------------------------------

REVENUE = [FiscalRevenue(FY2024, 5_000_000, 1_000_000), FiscalRevenue(FY2025, 5_000_000, 1_000_000)]


def relative_gifts(others: list[tuple[int, int]]) -> list[Gift]:
    """Gifts of ¥2,000,000: donor A 600,000, ``others`` as (count, amount), 40 × ¥750 and 7 anonymous × ¥10,000."""
    gifts = [Gift(IN_2024, 300_000, "A社", "長野市A"), Gift(IN_2025, 300_000, "A社", "長野市A")]
    for n, amount in others:
        gifts += crowd(n, IN_2025, amount, prefix=f"寄附者{amount}-")
    gifts += crowd(40, IN_2024, 750, prefix="少額")
    gifts += [Gift(IN_2025, 10_000, anonymous=True) for _ in range(7)]
    assert sum(g.amount_yen for g in gifts) == 2_000_000
    return gifts


def test_p8_relative_standard_fails():
    result = check(relative_gifts([(13, 100_000)]), revenue=REVENUE)
    rel = result.to_dict()["relative"]
    assert (rel["numerator_yen"], rel["denominator_yen"]) == (1_500_000, 7_900_000)
    assert rel["ratio"] == 0.1899 and rel["passes"] is False and rel["small_organisation"] is False
    assert (rel["excess_yen"], rel["small_donors_yen"], rel["anonymous_yen"]) == (400_000, 30_000, 70_000)


def test_p9_small_organisation_passes():
    result = check(relative_gifts([(60, 20_000), (1, 100_000)]), revenue=REVENUE)
    rel = result.to_dict()["relative"]
    assert rel["qualifying_donors"] == 62 and rel["small_organisation"] is True
    assert (rel["numerator_yen"], rel["denominator_yen"], rel["ratio"], rel["passes"]) == (
        1_600_000,
        8_000_000,
        0.2,
        True,
    )
    assert result.passes is True and result.absolute.passes is False


def test_p9_is_not_small_when_revenue_is_high():
    revenue = [FiscalRevenue(FY2024, 8_000_000, 1_000_000), FiscalRevenue(FY2025, 8_000_000, 1_000_000)]
    rel = check(relative_gifts([(60, 20_000), (1, 100_000)]), revenue=revenue).relative
    assert rel.small_organisation is False  # 16,000,000 × 12 ÷ 24 = 8,000,000 is not below 8,000,000


def test_officer_household_is_one_donor_for_the_ten_percent_limit():
    gifts = [
        Gift(IN_2025, 300_000, "佐藤一郎", SATO, "佐藤家"),
        Gift(IN_2025, 300_000, "佐藤花子", SATO, "佐藤家"),
        *crowd(14, IN_2025, 100_000),
    ]
    rel = check(gifts, officers=[Officer("佐藤一郎", SATO)], revenue=REVENUE).relative
    assert rel.total_gifts_yen == 2_000_000
    assert rel.excess_yen == 400_000  # 600,000 − 200,000; separately it would be 2 × 100,000


def test_non_officer_household_members_are_separate_donors_for_the_limit():
    gifts = [
        Gift(IN_2025, 300_000, "田中太郎", TANAKA, "田中家"),
        Gift(IN_2025, 300_000, "田中花子", TANAKA, "田中家"),
        *crowd(14, IN_2025, 100_000),
    ]
    assert check(gifts, revenue=REVENUE).relative.excess_yen == 200_000


def test_certified_npo_donor_has_a_fifty_percent_limit():
    gifts = [Gift(IN_2025, 1_200_000, "認定NPO法人X", "長野市X", donor_is_nintei=True), *crowd(8, IN_2025, 100_000)]
    rel = check(gifts, revenue=REVENUE).relative
    assert rel.excess_yen == 200_000  # over 50 % of 2,000,000


def test_subsidy_option_adds_subsidies_to_both_sides():
    revenue = [FiscalRevenue(fy, 5_000_000, 1_000_000, subsidy_yen=500_000) for fy in (FY2024, FY2025)]
    gifts = relative_gifts([(13, 100_000)])
    rel = check(gifts, revenue=revenue, settings=PstSettings(rel_include_subsidy=True)).relative
    assert (rel.numerator_yen, rel.denominator_yen) == (2_500_000, 8_900_000)
    unknown = check(gifts, revenue=REVENUE, settings=PstSettings(rel_include_subsidy=True))
    assert warning_counts(unknown)["subsidy_unknown"] == 2


def test_relative_is_null_without_revenue_and_warns_when_a_year_is_missing():
    assert check(crowd(1, IN_2025)).to_dict()["relative"] is None
    result = check(crowd(1, IN_2025), revenue=[REVENUE[1], FiscalRevenue(D(2023, 3, 31), 1, 0)])
    assert result.relative is None
    assert warning_counts(result) == {"revenue_outside_period": 1, "revenue_incomplete": 1}


# --- output ----------------------------------------------------------------------------------------------------------


def test_json_shape():
    data = check([*P1, *crowd(1, IN_2024), Gift(IN_2025, 500, "少額", "茅野市1")], revenue=REVENUE).to_dict()
    assert set(data) == {
        "period",
        "absolute",
        "relative",
        "excluded",
        "exclusion_summary",
        "summary",
        "warnings",
        "passes",
        "settings",
    }
    assert data["summary"] is False
    assert data["exclusion_summary"] == [{"reason": "below_threshold", "rows": 1, "amount_yen": 500}]
    assert data["period"] == {"start": "2024-04-01", "end": "2026-03-31", "months": 24, "required_fiscal_years": 2}
    assert data["absolute"]["fiscal_years"][1] == {
        "start": "2025-04-01",
        "end": "2026-03-31",
        "months": 12,
        "qualifying_donors": 1,
        "counted": [{"donors": ["田中太郎", "田中花子"], "amount_yen": 3_500}],
    }
    assert data["absolute"]["annual_average"] == 1
    assert data["excluded"] == [
        {"donor_name": "少額", "fiscal_year_end": "2026-03-31", "reason": "below_threshold", "amount_yen": 500}
    ]
    assert set(data["relative"]) >= {"numerator_yen", "denominator_yen", "ratio", "passes"}
    assert data["warnings"][0]["key"] == "household_review"
    assert data["settings"]["household_sum"] is True


def test_every_reason_and_warning_has_japanese_text():
    assert set(EXCLUSION_LABELS) == set(Exclusion)
    assert all(str(message).isascii() is False for message in WARNING_MESSAGES.values())


def test_grouping_produces_one_row_per_donor_and_fiscal_year():
    period = judging_period(3, AS_OF)
    gifts = [*P1, Gift(D(2025, 12, 1), 700, "田中太郎", TANAKA), Gift(IN_2025, 1, "", "", anonymous=True)]
    grouped = group_gifts(gifts, period)
    named = [r for r in grouped if r.unit_key]
    assert sorted((r.donor_name, r.amount_yen) for r in named) == [("田中太郎", 2_700), ("田中花子", 1_500)]
    assert len({r.unit_key for r in named}) == 1
    assert [r.unattributed for r in grouped if not r.unit_key] == [Exclusion.ANONYMOUS]
