from collections import Counter

from kyodo_fund.orgs.data import (
    ACTIVITY_CATEGORIES,
    MUNICIPALITIES,
    MUNICIPALITY_BY_CODE,
    LegalForm,
    municipality_choices,
)


def _lg_check_digit(five: str) -> str:
    # 全国地方公共団体コード: weights 6,5,4,3,2; check = last digit of 11 - (sum mod 11).
    total = sum(int(d) * w for d, w in zip(five, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def test_nagano_has_77_municipalities_19_cities_23_towns_35_villages():
    assert len(MUNICIPALITIES) == 77
    assert Counter(m.kind for m in MUNICIPALITIES) == {"市": 19, "町": 23, "村": 35}


def test_codes_are_unique_six_digit_nagano_codes_with_valid_check_digit():
    codes = [m.code for m in MUNICIPALITIES]
    assert len(set(codes)) == 77
    for code in codes:
        assert len(code) == 6 and code.isdigit() and code.startswith("20"), code
        assert code[5] == _lg_check_digit(code[:5]), code


def test_names_are_unique_except_none_and_known_codes_match():
    assert len({m.name for m in MUNICIPALITIES}) == 77
    assert MUNICIPALITY_BY_CODE["202011"].name == "長野市"
    assert MUNICIPALITY_BY_CODE["202029"].name == "松本市"
    # 松川町 (下伊那郡) and 松川村 (北安曇郡) are different places.
    assert MUNICIPALITY_BY_CODE["204021"].name == "松川町" and MUNICIPALITY_BY_CODE["204021"].district == "下伊那郡"
    assert MUNICIPALITY_BY_CODE["204820"].name == "松川村" and MUNICIPALITY_BY_CODE["204820"].district == "北安曇郡"


def test_cities_have_no_district_and_towns_and_villages_have_one():
    for m in MUNICIPALITIES:
        assert (m.district == "") == (m.kind == "市"), m
        assert m.district == "" or m.district.endswith("郡")


def test_choices_are_grouped_and_cover_every_municipality():
    groups = municipality_choices()
    assert len(groups["市"]) == 19
    assert sum(len(options) for options in groups.values()) == 77


def test_twenty_numbered_activity_categories():
    assert [c.number for c in ACTIVITY_CATEGORIES] == list(range(1, 21))
    assert str(ACTIVITY_CATEGORIES[0].label) == "保健・医療・福祉"
    assert str(ACTIVITY_CATEGORIES[12].label) == "子どもの健全育成"


def test_corporate_number_is_required_except_for_unincorporated_and_other():
    optional = {f for f in LegalForm if not f.requires_corporate_number}
    assert optional == {LegalForm.NIN_I, LegalForm.OTHER}
    assert len(LegalForm) == 10
    assert str(LegalForm.NPO_HOUJIN.label).startswith("NPO法人")
