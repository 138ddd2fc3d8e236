"""Integer-yen helpers: formatting and parsing. No business rules live here."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"^[0-9]+$")
#: Thousands separators, when present, must group by three: "12,345" yes, "1,2,3" no.
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+$")


def format_yen(amount: int, *, receipt: bool = False) -> str:
    """``12345`` → ``¥12,345`` (``¥12,345-`` on receipts)."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError("yen amounts are int")
    sign = "-" if amount < 0 else ""
    text = f"{sign}¥{abs(amount):,}"
    return text + "-" if receipt else text


def parse_yen(text: str) -> int:
    """Parse user input such as ``"12,345"``, ``"¥3000"`` or full-width ``"３０００"``.

    Raises ``ValueError`` for decimals, negatives, exponents and anything else that is not
    a whole number of yen.
    """
    import unicodedata

    cleaned = unicodedata.normalize("NFKC", str(text)).strip()
    cleaned = cleaned.removeprefix("¥").removeprefix("￥").removesuffix("円").removesuffix("-")
    cleaned = cleaned.strip()
    if "," in cleaned and not _GROUPED.match(cleaned):
        raise ValueError(f"misplaced thousands separator: {text!r}")
    cleaned = cleaned.replace(",", "")
    if not _DIGITS.match(cleaned):
        raise ValueError(f"not a whole yen amount: {text!r}")
    return int(cleaned)


def percent_of(amount: int, rate_pct: float | int) -> int:
    """Floor of ``amount × rate_pct / 100`` in integer arithmetic where the rate allows it."""
    # Rates are configured like 10 or 3.6; scale to basis points to avoid float rounding.
    basis_points = round(rate_pct * 100)
    return amount * basis_points // 10_000
