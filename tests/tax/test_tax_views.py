"""The public simulator page: a GET form whose result is a link."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup

from kyodo_fund.accounts.models import UserRole
from tests.conftest import login
from tests.factories import make_user

URL = "/tax/simulator"


def page(client, **params) -> tuple[int, BeautifulSoup]:
    response = client.get(URL, query_string=params)
    return response.status_code, BeautifulSoup(response.get_data(as_text=True), "html.parser")


def text_of(soup: BeautifulSoup, selector: str) -> str:
    node = soup.select_one(selector)
    assert node is not None, f"no {selector}"
    return re.sub(r"\s+", " ", node.get_text(" ", strip=True))


def row(soup: BeautifulSoup, label: str) -> list[str]:
    for tr in soup.select(".tax-result tr"):
        th = tr.find("th")
        if th and th.get_text(strip=True) == label:
            return [td.get_text(strip=True) for td in tr.find_all("td")]
    raise AssertionError(f"no row {label}")


def test_blank_form_is_public_japanese_and_uses_get(client):
    status, soup = page(client)
    assert status == 200
    form = soup.select_one("form.tax-form")
    assert form["method"] == "get"
    assert soup.select_one(".tax-result") is None
    for control in form.select("input[type=text], select"):
        assert soup.select_one(f"label[for={control['id']}]"), control["id"]
    assert soup.select_one("#marginal_rate_pct option[selected]")["value"] == "10"
    assert "確定申告" in soup.get_text()
    assert soup.find("a", href=URL)  # the navigation lists the simulator


def test_e5_mixed_gifts_recommend_b(client):
    status, soup = page(
        client,
        total_income_yen="5,000,000",
        income_tax_yen="150000",
        marginal_rate_pct="10",
        nintei_npo_yen="30000",
        koeki_cert_yen="20000",
        koeki_yen="10000",
        plain_yen="5000",
    )
    assert status == 200
    assert row(soup, "所得控除額（寄附金控除）") == ["¥58,000", "¥8,000"]
    assert row(soup, "税額控除（認定NPO法人等）") == ["—", "¥12,000"]
    assert row(soup, "税額控除（公益社団法人等）") == ["—", "¥8,000"]
    assert row(soup, "所得税の軽減額（合計）") == ["¥5,800", "¥20,800"]
    recommendation = text_of(soup, ".tax-recommend")
    assert "おすすめ: B" in recommendation and "¥20,800" in recommendation
    notes = text_of(soup, ".tax-notes")
    assert "概算" in notes and "確定申告" in notes
    assert "対象になりません" in notes  # the plain gift is ignored, and said so


def test_e3_recommends_a_with_full_width_input(client):
    _, soup = page(client, total_income_yen="３，０００，０００", income_tax_yen="￥60,000", nintei_npo_yen="200000")
    assert "おすすめ: A" in text_of(soup, ".tax-recommend")
    assert row(soup, "税額控除（認定NPO法人等）") == ["—", "¥15,000"]
    assert "25%の上限" in text_of(soup, ".tax-notes")


def test_e6_and_e8_resident_tax(client):
    params = {
        "total_income_yen": "50000000",
        "jorei_npo_yen": "10000",
        "pref_designated_yen": "10000",
        "muni_designated_yen": "10000",
    }
    _, soup = page(client, **params, lives_in_nagano="yes")
    assert row(soup, "県民税") == ["¥320"]
    assert row(soup, "市町村民税") == ["¥480"]
    assert row(soup, "合計") == ["¥800"]
    _, soup = page(client, **params, lives_in_nagano="no")
    assert row(soup, "合計") == ["¥0"]
    assert "長野県内にお住まいでない" in text_of(soup, ".tax-notes")


def test_invalid_amounts_show_japanese_errors_and_no_result(client):
    status, soup = page(client, total_income_yen="1000.5", koeki_yen="-100", nintei_npo_yen="1e9")
    assert status == 200
    assert soup.select_one(".tax-result") is None
    summary = text_of(soup, ".error-summary")
    assert summary.count("0以上の整数") == 3
    assert soup.select_one("#total_income_yen")["value"] == "1000.5"  # what was typed comes back


def test_designated_part_cannot_exceed_the_gifts(client):
    _, soup = page(client, total_income_yen="5000000", plain_yen="10000", pref_designated_yen="10000")
    assert soup.select_one(".tax-result") is None
    assert "超えています" in text_of(soup, "#pref_designated_yen-error")


def test_missing_income_and_unknown_rate_are_errors(client):
    _, soup = page(client, total_income_yen="", marginal_rate_pct="99", lives_in_nagano="maybe")
    assert soup.select_one(".tax-result") is None
    assert text_of(soup, "#total_income_yen-error") == "入力してください。"
    assert text_of(soup, "#marginal_rate_pct-error") == "一覧から選んでください。"
    assert text_of(soup, "#lives_in_nagano-error") == "一覧から選んでください。"


@pytest.mark.parametrize("role", [None, UserRole.DONOR, UserRole.REVIEWER, UserRole.ADMIN])
def test_simulator_and_api_are_public_for_everyone(client, db_session, role):
    if role is not None:
        user = make_user(db_session, role=role)
        db_session.commit()  # the login request runs in its own request context
        assert login(client, user.email).status_code == 302
    assert client.get(URL, query_string={"total_income_yen": "1000000", "koeki_yen": "12000"}).status_code == 200
    api = client.get(
        "/api/v1/tax-estimate", query_string={"amount_yen": 12000, "recipient": "koeki", "total_income_yen": 10**6}
    )
    assert api.status_code == 200
    assert api.get_json()["income_deduction_yen"] == 10_000
