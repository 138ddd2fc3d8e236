"""D.csv / O.csv / R.csv: every row checked, every error reported with its row number, no partial data."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyodo_fund.certification.pst import FiscalRevenue, Gift, Officer
from kyodo_fund.certification.pst_files import (
    DONATION_HEADER,
    PstFileError,
    read_donations,
    read_officers,
    read_revenue,
)

HEADER = ",".join(DONATION_HEADER)
GOOD = "2025-06-01,5000,田中太郎,タナカタロウ,380-0001,長野市南長野1-1,t@example.jp,田中家,0,card,森づくり"


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    return ("\ufeff" if bom else "").encode() + ("\r\n".join(lines) + "\r\n").encode()


def errors_of(reader, data: bytes) -> list[str]:
    with pytest.raises(PstFileError) as exc:
        reader(data)
    return [str(e) for e in exc.value.errors]


def test_reads_donations_with_or_without_a_bom(tmp_path):
    path = tmp_path / "D.csv"
    path.write_bytes(csv_bytes(HEADER, GOOD, "2025/7/1,１２，０００,山田,,,,,,はい,募金箱,", bom=True))
    assert read_donations(path) == [
        Gift(date(2025, 6, 1), 5_000, "田中太郎", "長野市南長野1-1", "田中家", False),
        Gift(date(2025, 7, 1), 12_000, "山田", "", "", True),
    ]
    assert read_donations(csv_bytes(HEADER, GOOD)) == read_donations(path)[:1]


def test_wrong_header_is_row_one():
    [message] = errors_of(read_donations, csv_bytes(HEADER.replace("address", "addr"), GOOD))
    assert message.startswith("1行目: 見出し行は「received_on,amount_yen,")
    assert errors_of(read_donations, b"") == [message]


def test_every_row_error_is_reported_at_once_with_its_spreadsheet_row_number():
    data = csv_bytes(
        HEADER,
        GOOD.replace(",5000,", ",12.5,"),  # 2行目
        GOOD.replace("2025-06-01", "2025-02-30"),  # 3行目
        "",  # 4行目 blank, skipped
        GOOD.replace(",5000,", ",-100,").replace(",0,card", ",maybe,card"),  # 5行目: two errors
        GOOD.replace(",card,", ",bitcoin,"),  # 6行目
        GOOD,  # 7行目 fine
        GOOD + ",extra",  # 8行目
        GOOD.replace(",5000,", ",0,"),  # 9行目
    )
    assert errors_of(read_donations, data) == [
        "2行目: amount_yen が整数ではありません: 12.5",
        "3行目: received_on が日付（YYYY-MM-DD）ではありません: 2025-02-30",
        "5行目: amount_yen が負の値です: -100",
        "5行目: anonymous は 1/0 または true/false で指定してください: maybe",
        "6行目: method が不明です: bitcoin（card, konbini, bank_transfer, postal_transfer, cash, collection_box, "
        "other）",
        "8行目: 列が11個ではありません（12個）",
        "9行目: amount_yen が0です",
    ]


def test_error_lines_name_the_file():
    with pytest.raises(PstFileError) as exc:
        read_donations(csv_bytes(HEADER, GOOD.replace("2025-06-01", "")), filename="寄附.csv")
    assert exc.value.lines() == ["寄附.csv: 2行目: received_on が空です"]


def test_invalid_utf8_reports_the_line():
    data = csv_bytes(HEADER, GOOD) + "2025-06-02,1000,山田,,,,,,,,\r\n".encode("shift_jis")
    assert errors_of(read_donations, data) == ["3行目: 文字コードが UTF-8 ではありません"]


def test_officers():
    data = csv_bytes("name,address,household", "佐藤一郎,松本市丸の内3-3,佐藤家", "鈴木,,", ",長野市,")
    assert errors_of(read_officers, data) == ["4行目: name が空です"]
    assert read_officers(csv_bytes("name,address,household", "佐藤一郎,松本市,")) == [Officer("佐藤一郎", "松本市")]
    assert read_officers(csv_bytes("name,address,household")) == []


def test_revenue():
    header = "fiscal_year_end,total_revenue_yen,excluded_revenue_yen"
    assert read_revenue(csv_bytes(header, "2026-03-31,5000000,1000000")) == [
        FiscalRevenue(date(2026, 3, 31), 5_000_000, 1_000_000)
    ]
    data = csv_bytes(
        header,
        "2026-03-31,5000000,1000000",
        "2026-03-30,5000000,0",
        "2026-03-31,1,0",
        "2025-03-31,100,200",
        "2024-03-31,abc,",
    )
    assert errors_of(read_revenue, data) == [
        "3行目: fiscal_year_end が月末日ではありません: 2026-03-30",
        "4行目: fiscal_year_end が2行目と重複しています",
        "5行目: excluded_revenue_yen が total_revenue_yen を超えています",
        "6行目: total_revenue_yen が整数ではありません: abc",
        "6行目: excluded_revenue_yen が整数ではありません: ",
    ]


CORRUPTIONS = {
    "received_on": ["2025-13-01", "昨日", "", "2025-06"],
    "amount_yen": ["1.5", "-3", "abc", "", "0"],
    "anonymous": ["perhaps", "2"],
    "method": ["paypal"],
}


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 30),
    st.data(),
)
def test_a_corrupted_row_is_reported_with_its_number(n_rows, data):
    bad_row = data.draw(st.integers(0, n_rows - 1))
    column = data.draw(st.sampled_from(sorted(CORRUPTIONS)))
    value = data.draw(st.sampled_from(CORRUPTIONS[column]))
    rows = []
    for i in range(n_rows):
        fields = dict(zip(DONATION_HEADER, GOOD.split(","), strict=True))
        fields["donor_name"] = f"寄附者{i}"
        if i == bad_row:
            fields[column] = value
        rows.append(",".join(fields[c] for c in DONATION_HEADER))
    messages = errors_of(read_donations, csv_bytes(HEADER, *rows))
    assert messages and all(m.startswith(f"{bad_row + 2}行目: {column} ") for m in messages)
