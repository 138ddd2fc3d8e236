"""``flask pst check`` on worked examples written as CSV files."""

from __future__ import annotations

import json

import pytest

from kyodo_fund.certification.cli import pst_cli
from kyodo_fund.certification.pst_files import DONATION_HEADER


@pytest.fixture
def runner(app):
    # The lead wires pst_cli into kyodo_fund/cli.py; until then add it here, once.
    if "pst" not in app.cli.list_commands(None):
        app.cli.add_command(pst_cli)
    return app.test_cli_runner()


def donation(day: str, amount: int, name: str = "", address: str = "", household: str = "", anonymous: int = 0):
    return f"{day},{amount},{name},,,{address},,{household},{anonymous},,"


def write(path, header: str, rows: list[str]):
    path.write_text("\ufeff" + "\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def p8_files(tmp_path):
    """P8: income 10,000,000 over 2 FYs, 補助金 2,000,000, gifts 2,000,000 (A 600,000; 13 × 100,000;
    40 × ¥750; anonymous 70,000), and a P1 household plus a P2 officer on the side of the absolute standard."""
    rows = [donation("2024-06-01", 300_000, "A社", "長野市A"), donation("2025-06-01", 300_000, "A社", "長野市A")]
    rows += [donation("2025-06-01", 100_000, f"寄附者{i}", f"上田市{i}") for i in range(13)]
    rows += [donation("2024-06-01", 750, f"少額{i}", f"小諸市{i}") for i in range(40)]
    rows += [donation("2025-06-01", 10_000, anonymous=1) for _ in range(7)]
    officers = ["佐藤一郎,松本市丸の内3-3,佐藤家", "鈴木,,"]
    revenue = ["2025-03-31,5000000,1000000", "2026-03-31,5000000,1000000"]
    return {
        "--donations": write(tmp_path / "D.csv", ",".join(DONATION_HEADER), rows),
        "--officers": write(tmp_path / "O.csv", "name,address,household", officers),
        "--revenue": write(tmp_path / "R.csv", "fiscal_year_end,total_revenue_yen,excluded_revenue_yen", revenue),
    }


def args(files: dict, *extra: str) -> list[str]:
    base = ["pst", "check", "--fiscal-year-end-month", "3", "--as-of", "2026-05-01"]
    return base + [part for item in files.items() for part in item] + list(extra)


def test_json_for_p8(runner, p8_files):
    result = runner.invoke(args=args(p8_files, "--json"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["period"] == {"start": "2024-04-01", "end": "2026-03-31", "months": 24, "required_fiscal_years": 2}
    assert [(fy["start"], fy["end"], fy["qualifying_donors"]) for fy in data["absolute"]["fiscal_years"]] == [
        ("2024-04-01", "2025-03-31", 1),
        ("2025-04-01", "2026-03-31", 14),
    ]
    assert data["absolute"]["annual_average"] == 7.5 and data["absolute"]["passes"] is False
    rel = data["relative"]
    assert (rel["numerator_yen"], rel["denominator_yen"], rel["ratio"], rel["passes"]) == (
        1_500_000,
        7_900_000,
        0.1899,
        False,
    )
    reasons = {(e["reason"], e["fiscal_year_end"]) for e in data["excluded"]}
    assert reasons == {("below_threshold", "2025-03-31"), ("anonymous", "2026-03-31")}
    assert len(data["excluded"]) == 40 + 1  # anonymous gifts of a year share one row
    assert {w["key"]: w["count"] for w in data["warnings"]} == {"officer_missing_address": 1}
    assert data["passes"] is False


def test_without_revenue_relative_is_null(runner, p8_files):
    del p8_files["--revenue"]
    result = runner.invoke(args=args(p8_files, "--json"))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["relative"] is None


def test_readable_japanese_summary(runner, p8_files):
    result = runner.invoke(args=args(p8_files))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "実績判定期間: 2024-04-01〜2026-03-31（24か月）" in out
    assert "2025-04-01〜2026-03-31: 14人" in out
    assert "年平均 7.50人 → 不適合" in out
    assert "相対値基準（5分の1以上）: ¥1,500,000 ÷ ¥7,900,000 = 18.99% → 不適合" in out
    assert "匿名の寄附: 1件" in out and "住所のない役員が1名います" in out


def test_bad_files_exit_2_with_row_numbered_errors(runner, p8_files, tmp_path):
    rows = [donation("2025-06-01", 1_000, "山田", "諏訪市"), donation("2025-13-01", 1_000, "山田", "諏訪市")]
    p8_files["--donations"] = write(tmp_path / "bad.csv", ",".join(DONATION_HEADER), [*rows, "2025-06-01,x" + "," * 9])
    p8_files["--revenue"] = write(tmp_path / "R.csv", "fiscal_year_end,total_revenue_yen", [])
    result = runner.invoke(args=args(p8_files, "--json"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "bad.csv: 3行目: received_on が日付（YYYY-MM-DD）ではありません: 2025-13-01",
        "bad.csv: 4行目: amount_yen が整数ではありません: x",
        "R.csv: 1行目: 見出し行は「fiscal_year_end,total_revenue_yen,excluded_revenue_yen」にしてください",
    ]


def test_p7_via_established_on(runner, tmp_path):
    rows = [donation("2024-12-01", 3_000, f"初年度{i}", f"飯田市{i}") for i in range(30)]
    rows += [donation("2025-06-01", 3_000, f"寄附者{i}", f"伊那市{i}") for i in range(90)]
    files = {
        "--donations": write(tmp_path / "D.csv", ",".join(DONATION_HEADER), rows),
        "--officers": write(tmp_path / "O.csv", "name,address,household", []),
    }
    result = runner.invoke(args=args(files, "--established-on", "2024-10-01", "--json"))
    data = json.loads(result.stdout)
    assert data["period"]["months"] == 18
    assert (data["absolute"]["annual_average"], data["absolute"]["passes"]) == (80, False)


def test_no_closed_fiscal_year_is_an_error(runner, tmp_path):
    files = {
        "--donations": write(tmp_path / "D.csv", ",".join(DONATION_HEADER), []),
        "--officers": write(tmp_path / "O.csv", "name,address,household", []),
    }
    result = runner.invoke(args=args(files, "--established-on", "2026-04-15"))
    assert result.exit_code == 2
    assert "終了した事業年度がありません" in result.stderr


def test_renewal_flag_uses_five_years(runner, p8_files):
    result = runner.invoke(args=args(p8_files, "--renewal", "--json"))
    assert json.loads(result.stdout)["period"]["start"] == "2021-04-01"


def test_settings_come_from_the_app_config(runner, p8_files, app, monkeypatch):
    monkeypatch.setitem(app.config, "PST_ABS_NORMALISE", "fiscal_years")
    data = json.loads(runner.invoke(args=args(p8_files, "--json")).stdout)
    assert data["settings"]["abs_normalise"] == "fiscal_years"
    assert data["absolute"]["annual_average"] == 7.5  # (1 + 14) ÷ 2 fiscal years
