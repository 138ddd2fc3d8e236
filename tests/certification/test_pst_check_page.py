"""The members' PST self-check: upload D.csv / O.csv (/ R.csv), get the result or every faulty row by number."""

from __future__ import annotations

import io

from bs4 import BeautifulSoup

from kyodo_fund.certification.pst_files import DONATION_HEADER
from tests.conftest import csrf_from

HEADER = ",".join(DONATION_HEADER)


def donation(day: str, amount, name: str, address: str, household: str = "", anonymous: str = "0") -> str:
    return f"{day},{amount},{name},,,{address},,{household},{anonymous},,"


def upload(client, files: dict[str, str], **fields):
    token = csrf_from(client.get("/orgs/npo-a/pst-check").get_data(as_text=True))
    data = {"csrf_token": token, "fiscal_year_end_month": "3", "as_of": "2026-05-01", **fields}
    for key, text in files.items():
        data[key] = (io.BytesIO(text.encode("utf-8")), f"{key}.csv")
    return client.post("/orgs/npo-a/pst-check", data=data, content_type="multipart/form-data")


def _soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def test_the_form_starts_with_the_organisations_fiscal_year(cast, sign_in, june_2026):
    cast.org_a.fiscal_year_end_month = 12
    soup = _soup(sign_in(cast.owner_a).get("/orgs/npo-a/pst-check"))
    assert soup.select_one("#fiscal_year_end_month option[selected]")["value"] == "12"
    assert soup.select_one("#as_of")["value"] == "2026-06-10"
    assert soup.select_one("label[for=donations]") is not None and soup.select_one(".purpose-notice") is not None


def test_a_bad_file_lists_every_faulty_row_by_number(cast, sign_in, june_2026):
    bad = "\n".join(
        [
            HEADER,
            donation("2025-06-01", 5000, "山田", "長野市1"),
            donation("2025-13-01", 5000, "佐藤", "長野市2"),
            "",
            donation("2025-06-03", "-100", "鈴木", "長野市3"),
        ]
    )
    response = upload(sign_in(cast.owner_a), {"donations": bad, "officers": "name,address,household\n"})
    assert response.status_code == 200
    errors = [li.get_text(strip=True) for li in _soup(response).select("#file-errors li")]
    assert errors == [
        "D.csv: 3行目: received_on が日付（YYYY-MM-DD）ではありません: 2025-13-01",
        "D.csv: 5行目: amount_yen が負の値です: -100",
    ]
    assert _soup(response).select_one("#result") is None


def test_a_missing_file_is_a_field_error(cast, sign_in, june_2026):
    response = upload(sign_in(cast.owner_a), {"donations": HEADER + "\n"})
    assert "ファイルを選んでください" in _soup(response).select_one("#officers-error").get_text()


def test_good_files_give_the_result_chart_and_hints(cast, sign_in, june_2026):
    rows = [donation("2025-06-01", 3000, f"寄附者{n}", f"上田市{n}") for n in range(120)]
    rows += [donation("2024-06-01", 3000, f"寄附者{n}", f"上田市{n}") for n in range(90)]
    rows += [donation("2025-07-01", 5000, f"住所なし{n}", "") for n in range(18)]
    rows += [donation("2025-07-01", 50000, "佐藤 一郎", "松本市1", household="佐藤家")]
    files = {
        "donations": "\ufeff" + "\n".join([HEADER, *rows]) + "\n",
        "officers": "name,address,household\n佐藤 一郎,松本市1,佐藤家\n",
        "revenue": "fiscal_year_end,total_revenue_yen,excluded_revenue_yen\n"
        "2025-03-31,3000000,0\n2026-03-31,3000000,0\n",
    }
    response = upload(sign_in(cast.owner_a), files)
    soup = _soup(response)
    result = soup.select_one("#result")
    assert result is not None and "判定：適合" in result.get_text()
    cells = [[td.get_text(strip=True) for td in tr.select("td")] for tr in result.select("table tbody tr")]
    assert cells == [["2024-04-01〜2025-03-31", "12", "90"], ["2025-04-01〜2026-03-31", "12", "120"]]
    assert len(result.select("svg rect.pst-bar")) == 2 and len(result.select("svg rect.pst-short")) == 1
    hints = [li.get_text(strip=True) for li in result.select(".pst-hints li")]
    assert "住所のない寄附者が18名います（絶対値基準では数えません）" in hints
    assert "役員又はその世帯: 1件" in result.get_text()
