"""法人番号 (13-digit corporate number): normalising and the check digit.

The first digit is the check digit over the 12-digit base number:
``9 - (Σ P_n × Q_n mod 9)`` where ``P_n`` is the n-th digit from the right of the base and
``Q_n`` is 1 for odd n and 2 for even n (法人番号の指定等に関する省令 第2条).
"""

from __future__ import annotations

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-‐－ー]")


def normalise(raw: str) -> str:
    """Full-width digits to ASCII, separators and spaces removed."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))


def check_digit(base: str) -> int:
    if len(base) != 12 or not base.isascii() or not base.isdigit():
        raise ValueError("the base of a corporate number is 12 digits")
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(base), start=1))
    return 9 - total % 9


def with_check_digit(base: str) -> str:
    return f"{check_digit(base)}{base}"


def is_valid(number: str) -> bool:
    if len(number) != 13 or not number.isascii() or not number.isdigit():
        return False
    return int(number[0]) == check_digit(number[1:])
