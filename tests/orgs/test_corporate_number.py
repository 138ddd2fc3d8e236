import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyodo_fund.orgs.corporate_number import check_digit, is_valid, normalise, with_check_digit


def test_national_tax_agency_number_agrees_with_the_formula():
    # 国税庁's own 法人番号; base 000012050002 → Σ = 2·1 + 5·1 + 2·1 + 1·2 = 11; 9 − 11 mod 9 = 7.
    assert check_digit("000012050002") == 7
    assert is_valid("7000012050002")


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("000000000000", 9),  # Σ = 0 → 9
        ("000000000001", 8),  # P1 = 1 (odd, ×1) → 9 − 1
        ("000000000010", 7),  # P2 = 1 (even, ×2) → 9 − 2
        # From the right: 2·1 + 1·2 + 0·1 + 9·2 + 8·1 + 7·2 + 6·1 + 5·2 + 4·1 + 3·2 + 2·1 + 1·2 = 74; 74 mod 9 = 2.
        ("123456789012", 7),
    ],
)
def test_check_digit_by_hand(base, expected):
    assert check_digit(base) == expected
    assert is_valid(f"{expected}{base}")


@pytest.mark.parametrize(
    "number",
    [
        "8000012050002",  # wrong check digit
        "0000012050002",  # 0 can never be a check digit
        "700001205000",  # 12 digits
        "70000120500021",  # 14 digits
        "7000O12050002",  # letter O
        "",
        "７００００１２０５０００２",  # full width is not valid until normalised
    ],
)
def test_invalid_numbers(number):
    assert not is_valid(number)


def test_normalise_accepts_full_width_and_separators():
    assert normalise("７０００-０１２０-５０００２") == "7000012050002"
    assert normalise(" 7000 0120 50002 ") == "7000012050002"
    assert is_valid(normalise("７００００１２０５０００２"))


def test_check_digit_rejects_bad_base():
    with pytest.raises(ValueError):
        check_digit("12345")


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_generated_numbers_are_valid_and_a_different_check_digit_is_not(base):
    number = with_check_digit(base)
    assert is_valid(number)
    for wrong in "123456789":
        if wrong != number[0]:
            assert not is_valid(wrong + base)
