"""``GET /api/v1/tax-estimate``: the worked examples that fit one recipient, and every bad parameter."""

from __future__ import annotations

import pytest

URL = "/api/v1/tax-estimate"
RICH = 50_000_000


def get(client, **params):
    return client.get(URL, query_string=params)


def ok(client, **params) -> dict:
    response = get(client, **params)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    return response.get_json()


def test_e1_below_floor_everything_zero(client):
    body = ok(
        client,
        amount_yen=1500,
        recipient="nintei_npo",
        total_income_yen=RICH,
        income_tax_yen=1_000_000,
        pref_designated="true",
        muni_designated="true",
    )
    assert body["income_deduction_yen"] == 0
    assert body["income_tax_credit_yen"] == 0
    assert body["resident_tax_credit_yen"] == {"prefecture": 0, "municipality": 0, "total": 0}
    assert body["recommended"] is None


def test_e2_credit_without_income_tax_is_uncapped_and_says_so(client):
    body = ok(client, amount_yen=12345, recipient="nintei_npo", total_income_yen=RICH)
    assert body["income_deduction_yen"] == 10_345
    assert body["income_tax_credit_yen"] == 4_100
    assert body["income_tax_cap_applied"] is False
    assert any("25%" in note and "所得税額が入力されていない" in note for note in body["notes"])
    assert any("確定申告" in note for note in body["notes"])


def test_e3_capped_credit_and_recommendation_a(client):
    body = ok(client, amount_yen=200_000, recipient="nintei_npo", total_income_yen=3_000_000, income_tax_yen=60_000)
    assert body["income_deduction_yen"] == 198_000
    assert body["income_tax_credit_yen"] == 15_000
    assert body["income_tax_cap_applied"] is True
    assert body["options"]["A"]["saving_yen"] == 19_800
    assert body["recommended"] == "A"


def test_e4_income_cap_then_tax_cap(client):
    body = ok(client, amount_yen=500_000, recipient="nintei_npo", total_income_yen=1_000_000, income_tax_yen=20_000)
    assert body["income_deduction_yen"] == 398_000
    assert body["income_tax_credit_yen"] == 5_000


def test_e4_koeki_cert_is_credit_eligible_too(client):
    body = ok(client, amount_yen=500_000, recipient="koeki_cert", total_income_yen=1_000_000)
    assert body["income_tax_credit_yen"] == 159_200


def test_e6_jorei_prefecture_and_city(client):
    body = ok(
        client,
        amount_yen=10_000,
        recipient="jorei_npo",
        total_income_yen=RICH,
        pref_designated="true",
        muni_designated="true",
    )
    assert body["resident_tax_credit_yen"] == {"prefecture": 320, "municipality": 480, "total": 800}
    assert body["income_deduction_yen"] == 0
    assert body["income_tax_credit_yen"] is None
    assert any("長野県内にお住まいであるものとして" in note for note in body["notes"])


def test_e7_prefecture_only(client):
    body = ok(
        client,
        amount_yen=500_000,
        recipient="jorei_npo",
        total_income_yen=1_000_000,
        pref_designated="true",
        muni_designated="false",
        nagano_resident="true",
    )
    assert body["resident_tax_credit_yen"] == {"prefecture": 11_920, "municipality": 0, "total": 11_920}


def test_e8_not_in_nagano_on_1_january(client):
    body = ok(
        client,
        amount_yen=10_000,
        recipient="jorei_npo",
        total_income_yen=RICH,
        pref_designated="true",
        muni_designated="true",
        nagano_resident="false",
    )
    assert body["resident_tax_credit_yen"]["total"] == 0
    assert any("1月1日" in note for note in body["notes"])


def test_koeki_without_certificate_has_no_credit(client):
    body = ok(client, amount_yen=10_000, recipient="koeki", total_income_yen=RICH)
    assert body["income_deduction_yen"] == 8_000
    assert body["income_tax_credit_yen"] is None


def test_plain_gets_nothing_and_ignores_designation_flags(client):
    body = ok(client, amount_yen=10_000, recipient="plain", total_income_yen=RICH, pref_designated="true")
    assert body["income_deduction_yen"] == 0
    assert body["income_tax_credit_yen"] is None
    assert body["resident_tax_credit_yen"]["total"] == 0
    assert any("指定の有無は計算に使っていません" in note for note in body["notes"])


def test_marginal_rate_changes_only_the_deduction_saving(client):
    body = ok(client, amount_yen=102_000, recipient="koeki", total_income_yen=RICH, marginal_rate_pct=20)
    assert body["options"]["A"]["saving_yen"] == 20_000
    assert body["marginal_rate_pct"] == 20


VALID = {"amount_yen": "10000", "recipient": "nintei_npo", "total_income_yen": "5000000"}


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("amount_yen", None),
        ("amount_yen", ""),
        ("amount_yen", "abc"),
        ("amount_yen", "-100"),
        ("amount_yen", "1000.5"),
        ("amount_yen", "1e9"),
        ("amount_yen", "12,345"),
        ("amount_yen", "１０００"),
        ("amount_yen", "99999999999999"),
        ("recipient", None),
        ("recipient", "npo"),
        ("recipient", "NINTEI_NPO"),
        ("total_income_yen", None),
        ("total_income_yen", "3e6"),
        ("income_tax_yen", "-1"),
        ("income_tax_yen", "60000.0"),
        ("marginal_rate_pct", "50"),
        ("marginal_rate_pct", "10.21"),
        ("pref_designated", "yes"),
        ("pref_designated", ""),
        ("muni_designated", "maybe"),
        ("nagano_resident", "2"),
    ],
)
def test_bad_parameter_is_a_400_naming_it(client, parameter, value):
    params = {k: v for k, v in VALID.items() if k != parameter}
    if value is not None:
        params[parameter] = value
    response = get(client, **params)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"]["parameter"] == parameter
    assert body["error"]["message"]


def test_repeated_parameter_is_refused(client):
    response = client.get(URL + "?amount_yen=1&amount_yen=2&recipient=koeki&total_income_yen=1")
    assert response.status_code == 400
    assert response.get_json()["error"]["parameter"] == "amount_yen"


def test_post_is_not_allowed_and_needs_no_csrf_token(client):
    assert client.post(URL, data=VALID).status_code == 405


def test_true_and_false_flags_are_case_insensitive(client):
    body = ok(client, **VALID, pref_designated="TRUE", muni_designated="False")
    assert body["resident_tax_credit_yen"]["prefecture"] == 320
    assert body["resident_tax_credit_yen"]["municipality"] == 0
