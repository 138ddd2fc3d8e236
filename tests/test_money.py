import pytest

from kyodo_fund.money import format_yen, parse_yen


@pytest.mark.parametrize(
    ("amount", "receipt", "expected"),
    [
        (12_345, False, "¥12,345"),
        (12_345, True, "¥12,345-"),
        (0, False, "¥0"),
        (1_000_000, True, "¥1,000,000-"),
        (999, True, "¥999-"),
        (-3_000, False, "-¥3,000"),
    ],
)
def test_format_yen(amount, receipt, expected):
    assert format_yen(amount, receipt=receipt) == expected


@pytest.mark.parametrize("amount", [1.5, True, "100", None])
def test_format_yen_takes_only_int(amount):
    with pytest.raises(TypeError):
        format_yen(amount)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12,345", 12_345),
        ("12345", 12_345),
        ("￥3,000", 3_000),
        ("¥3,000", 3_000),
        ("¥12,345-", 12_345),
        ("３０００", 3_000),
        ("１２，３４５円", 12_345),
        ("  500 ", 500),
        ("0", 0),
    ],
)
def test_parse_yen(text, expected):
    assert parse_yen(text) == expected


@pytest.mark.parametrize(
    "text", ["1000.5", "-100", "1e9", "abc", "", "   ", "1,2,3", "12,34", "¥", "１０００．５", "+100", "0x10"]
)
def test_parse_yen_refuses(text):
    with pytest.raises(ValueError):
        parse_yen(text)


def test_format_then_parse_round_trips():
    for amount in (0, 7, 1_000, 12_345, 10**12):
        assert parse_yen(format_yen(amount, receipt=True)) == amount
