"""Reading the PST input files — D.csv (donations), O.csv (officers), R.csv (revenue per fiscal year).

UTF-8, with or without a BOM. Every row is checked and every error reported at once; a file with any error yields
no data. Row numbers are the ones a spreadsheet shows: the header is 1行目, the first data row 2行目. Blank rows are
skipped but keep their number.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask_babel import gettext as _

from kyodo_fund.certification.dates import end_of_month
from kyodo_fund.certification.pst import FiscalRevenue, Gift, Officer

DONATION_HEADER = (
    "received_on",
    "amount_yen",
    "donor_name",
    "donor_kana",
    "postal_code",
    "address",
    "email",
    "household",
    "anonymous",
    "method",
    "project",
)
OFFICER_HEADER = ("name", "address", "household")
REVENUE_HEADER = ("fiscal_year_end", "total_revenue_yen", "excluded_revenue_yen")

#: Accepted payment methods (blank = not recorded), with the Japanese words NPO exports tend to use.
METHODS = {
    "card": "card",
    "konbini": "konbini",
    "bank_transfer": "bank_transfer",
    "postal_transfer": "postal_transfer",
    "cash": "cash",
    "collection_box": "collection_box",
    "other": "other",
    "カード": "card",
    "クレジットカード": "card",
    "コンビニ": "konbini",
    "振込": "bank_transfer",
    "銀行振込": "bank_transfer",
    "郵便振替": "postal_transfer",
    "現金": "cash",
    "募金箱": "collection_box",
    "その他": "other",
}
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "はい", "匿名"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "n", "いいえ"})

_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_INTEGER = re.compile(r"^-?\d+$")

Source = bytes | str | os.PathLike


@dataclass(frozen=True)
class RowError:
    row: int
    message: str

    def __str__(self) -> str:
        return _("%(row)d行目: %(message)s", row=self.row, message=self.message)


class PstFileError(Exception):
    """One file's errors, all of them, in row order."""

    def __init__(self, filename: str, errors: list[RowError]) -> None:
        self.filename = filename
        self.errors = sorted(errors, key=lambda e: e.row)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.filename}: {error}" for error in self.errors]


class _Invalid(ValueError):
    pass


def _clean(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _date(column: str, value: str) -> date:
    text = _clean(value)
    if not text:
        raise _Invalid(_("%(column)s が空です", column=column))
    match = _DATE.match(text)
    try:
        if not match:
            raise ValueError
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise _Invalid(
            _("%(column)s が日付（YYYY-MM-DD）ではありません: %(value)s", column=column, value=value)
        ) from None


def _yen(column: str, value: str, *, allow_zero: bool) -> int:
    text = _clean(value).replace(",", "")
    if not _INTEGER.match(text):
        raise _Invalid(_("%(column)s が整数ではありません: %(value)s", column=column, value=value))
    amount = int(text)
    if amount < 0:
        raise _Invalid(_("%(column)s が負の値です: %(value)s", column=column, value=value))
    if amount == 0 and not allow_zero:
        raise _Invalid(_("%(column)s が0です", column=column))
    return amount


def _flag(column: str, value: str) -> bool:
    text = _clean(value).casefold()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise _Invalid(_("%(column)s は 1/0 または true/false で指定してください: %(value)s", column=column, value=value))


def _read_rows(source: Source, header: tuple[str, ...], filename: str, parse_row: Callable) -> list:
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PstFileError(filename, [RowError(line, _("文字コードが UTF-8 ではありません"))]) from None
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        found = next(rows, None)
        if found is None or tuple(cell.strip() for cell in found) != header:
            expected = ",".join(header)
            raise PstFileError(
                filename, [RowError(1, _("見出し行は「%(expected)s」にしてください", expected=expected))]
            )
        errors: list[RowError] = []
        parsed = []
        for number, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                errors.append(
                    RowError(number, _("列が%(want)d個ではありません（%(got)d個）", want=len(header), got=len(row)))
                )
                continue
            row_errors: list[str] = []
            item = parse_row(dict(zip(header, row, strict=True)), row_errors, number)
            errors.extend(RowError(number, message) for message in row_errors)
            if not row_errors:
                parsed.append(item)
    except csv.Error as exc:
        raise PstFileError(
            filename, [RowError(rows.line_num, _("CSV として読めません: %(error)s", error=exc))]
        ) from None
    if errors:
        raise PstFileError(filename, errors)
    return parsed


def _field(errors: list[str], parse: Callable, *args, **kwargs):
    try:
        return parse(*args, **kwargs)
    except _Invalid as exc:
        errors.append(str(exc))
        return None


def _donation(row: dict[str, str], errors: list[str], _number: int) -> Gift | None:
    received_on = _field(errors, _date, "received_on", row["received_on"])
    amount = _field(errors, _yen, "amount_yen", row["amount_yen"], allow_zero=False)
    anonymous = _field(errors, _flag, "anonymous", row["anonymous"])
    method = _clean(row["method"])
    if method and method.casefold() not in METHODS:
        allowed = ", ".join(v for k, v in METHODS.items() if k == v)
        errors.append(_("method が不明です: %(value)s（%(allowed)s）", value=row["method"], allowed=allowed))
    if errors:
        return None
    return Gift(
        received_on=received_on,
        amount_yen=amount,
        donor_name=row["donor_name"].strip(),
        donor_address=row["address"].strip(),
        household=row["household"].strip(),
        anonymous=anonymous,
    )


def _officer(row: dict[str, str], errors: list[str], _number: int) -> Officer | None:
    if not row["name"].strip():
        errors.append(_("name が空です"))
        return None
    return Officer(name=row["name"].strip(), address=row["address"].strip(), household=row["household"].strip())


def _revenue_parser() -> Callable:
    seen: dict[date, int] = {}

    def parse(row: dict[str, str], errors: list[str], number: int) -> FiscalRevenue | None:
        fy_end = _field(errors, _date, "fiscal_year_end", row["fiscal_year_end"])
        total = _field(errors, _yen, "total_revenue_yen", row["total_revenue_yen"], allow_zero=True)
        excluded = _field(errors, _yen, "excluded_revenue_yen", row["excluded_revenue_yen"], allow_zero=True)
        if fy_end is not None:
            if fy_end != end_of_month(fy_end):
                errors.append(_("fiscal_year_end が月末日ではありません: %(value)s", value=row["fiscal_year_end"]))
            elif fy_end in seen:
                errors.append(_("fiscal_year_end が%(row)d行目と重複しています", row=seen[fy_end]))
            else:
                seen[fy_end] = number
        if total is not None and excluded is not None and excluded > total:
            errors.append(_("excluded_revenue_yen が total_revenue_yen を超えています"))
        if errors:
            return None
        return FiscalRevenue(fiscal_year_end=fy_end, total_revenue_yen=total, excluded_revenue_yen=excluded)

    return parse


def read_donations(source: Source, filename: str = "D.csv") -> list[Gift]:
    return _read_rows(source, DONATION_HEADER, filename, _donation)


def read_officers(source: Source, filename: str = "O.csv") -> list[Officer]:
    return _read_rows(source, OFFICER_HEADER, filename, _officer)


def read_revenue(source: Source, filename: str = "R.csv") -> list[FiscalRevenue]:
    return _read_rows(source, REVENUE_HEADER, filename, _revenue_parser())
