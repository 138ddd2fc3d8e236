from datetime import date

import pytest

from kyodo_fund.wareki import era_year, format_wareki


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2020, 1, 1), "令和2年1月1日"),
        (date(2026, 1, 15), "令和8年1月15日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1912, 7, 30), "大正元年7月30日"),
    ],
)
def test_format_wareki(day, expected):
    assert format_wareki(day) == expected


def test_era_year_is_a_number_for_year_one():
    assert era_year(date(2019, 5, 1)) == ("令和", 1)
    assert era_year(date(2019, 4, 30)) == ("平成", 31)


def test_dates_before_the_table_are_refused():
    with pytest.raises(ValueError, match="before"):
        format_wareki(date(1868, 10, 22))
