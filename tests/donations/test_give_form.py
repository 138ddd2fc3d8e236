"""The donation form's defences: server-side amount checks, the honeypot, rate limits on starting
Checkout (privacy-and-security.md §4 D29–D30), and which projects take gifts at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from kyodo_fund.donations.models import Donation
from kyodo_fund.extensions import limiter
from kyodo_fund.factory import create_app
from kyodo_fund.projects.models import today_in_tokyo
from tests.conftest import csrf_from
from tests.donations.giving_support import DONOR, count, donate_url, give
from tests.factories import make_org, make_project


@pytest.fixture
def project(db_session):
    project = make_project(db_session, make_org(db_session))
    db_session.commit()
    return project


@pytest.fixture
def stripe_calls(monkeypatch, app_gateway):
    """Records every Checkout Session the app asks for (the real stand-in still answers)."""
    calls = []
    real = app_gateway.create_checkout_session

    def spy(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(app_gateway, "create_checkout_session", spy)
    return calls


@pytest.mark.parametrize(
    "amount", ["1", "-100", "1e9", "100; DROP TABLE donations", "1000.5", "", "100000000", "１００"]
)
def test_bad_amounts_are_refused_without_calling_stripe(client, db_session, project, stripe_calls, amount):
    response = give(client, project, preset="custom", custom=amount)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "入力内容を確認してください" in html
    assert any(m in html for m in ("円単位の整数", "円以上でお願いします", "円までです"))
    assert stripe_calls == [] and count(db_session, Donation) == 0


@pytest.mark.parametrize(("custom", "expected"), [("3,000", 3000), ("１０００", 1000), ("¥99,999,999", 99_999_999)])
def test_custom_amounts_people_type(client, db_session, project, stripe_calls, custom, expected):
    assert give(client, project, preset="custom", custom=custom).status_code == 303
    assert [c["amount_yen"] for c in stripe_calls] == [expected]


def test_a_tampered_preset_is_refused(client, db_session, project, stripe_calls):
    response = give(client, project, preset="50")
    assert response.status_code == 200 and stripe_calls == []
    assert "金額を選んでください" in response.get_data(as_text=True)


def test_the_checkout_call_carries_the_stored_key_and_metadata(client, db_session, project, stripe_calls):
    assert give(client, project, preset="5000").status_code == 303
    (call,) = stripe_calls
    donation = db_session.scalar(select(Donation))
    assert call["idempotency_key"] == donation.idempotency_key
    assert call["metadata"] == {"donation": donation.public_id, "project": str(project.id)}
    assert call["mode"] == "payment" and call["customer_email"] == DONOR["email"]
    assert call["success_url"].endswith(f"/donations/{donation.public_id}/thanks?session_id={{CHECKOUT_SESSION_ID}}")
    assert call["cancel_url"].endswith(f"/projects/{project.slug}")


def test_missing_donor_details_are_reported_in_japanese(client, db_session, project, stripe_calls):
    response = give(client, project, name="", email="not-an-address", postal_code="12345")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and stripe_calls == []
    assert "お名前を入力してください" in html
    assert "メールアドレスの形式が正しくありません" in html
    assert "郵便番号は" in html


def test_the_honeypot_pretends_success_and_calls_nobody(client, db_session, project, stripe_calls):
    response = give(client, project, website="http://spam.example/")
    assert response.status_code == 200
    assert "お手続きを受け付けました" in response.get_data(as_text=True)
    assert stripe_calls == [] and count(db_session, Donation) == 0


def test_the_form_shows_the_purpose_of_use_before_its_submit_button_and_hides_the_honeypot(client, project):
    html = client.get(donate_url(project)).get_data(as_text=True)
    assert html.index("purpose-notice") < html.index('type="submit" class="button primary"')
    honeypot = html.split('class="hp"', 1)[1].split("</div>", 1)[0]
    assert "空のままにしてください" in honeypot and 'name="website"' in honeypot


@pytest.mark.parametrize(
    "change",
    [
        {"status": "approved"},
        {"status": "closed"},
        {"status": "draft"},
        {"ends_on": today_in_tokyo() - timedelta(days=1), "starts_on": today_in_tokyo() - timedelta(days=30)},
    ],
)
def test_only_published_running_projects_take_gifts(client, db_session, change):
    project = make_project(db_session, make_org(db_session), **change)
    db_session.commit()
    assert client.get(donate_url(project)).status_code == 404
    assert client.post(donate_url(project), data={}).status_code in (400, 404)
    assert client.get("/projects/no-such-project/donate").status_code == 404


def test_project_page_links_to_the_form(client, project):
    assert f'href="/projects/{project.slug}/donate"' in client.get(f"/projects/{project.slug}").get_data(as_text=True)


# --- rate limits --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited_app(app):
    limited = create_app(
        "testing",
        overrides={
            "DATABASE_URL": app.config["DATABASE_URL"],
            "SMTP_PORT": app.config["SMTP_PORT"],
            "RATELIMIT_ENABLED": True,
            "DONATION_CHECKOUT_LIMIT_PER_IP": "5 per 10 minutes",
            "DONATION_CHECKOUT_LIMIT_PER_SESSION": "3 per 10 minutes",
            "DONATION_CHECKOUT_LIMIT_PER_EMAIL": "4 per 10 minutes",
        },
    )
    yield limited
    limited.extensions["kyodo_db_engine"].dispose()


@pytest.fixture
def throttled(limited_app, app, db_session, stripe_standin):
    from tests.fixtures_stripe import TEST_WEBHOOK_SECRET

    stripe_standin.reset()
    limited_app.config.update(STRIPE_API_BASE=stripe_standin.base_url, STRIPE_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET)
    limited_app.extensions.pop("kyodo_fund.stripe_gateway", None)
    limiter.init_app(limited_app)  # fresh counters, this app's switch on ...
    yield limited_app
    limiter.init_app(app)  # ... and off again for the rest of the suite


def _browser(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def test_one_browser_session_starts_at_most_three_checkouts(throttled, db_session, project):
    browser = _browser(throttled, "198.51.100.7")
    for n in range(3):
        assert give(browser, project, email=f"a{n}@example.jp").status_code == 303
    refused = give(browser, project, email="a9@example.jp")
    assert refused.status_code == 429
    assert count(db_session, Donation) == 3
    assert browser.get(donate_url(project)).status_code == 200, "only submissions count"


def test_one_ip_starts_at_most_five_checkouts_whatever_the_session(throttled, db_session, project):
    for n in range(5):
        assert give(_browser(throttled, "203.0.113.9"), project, email=f"b{n}@example.jp").status_code == 303
    assert give(_browser(throttled, "203.0.113.9"), project, email="b9@example.jp").status_code == 429
    assert give(_browser(throttled, "203.0.113.10"), project, email="b9@example.jp").status_code == 303


def test_one_email_address_starts_at_most_four_checkouts_from_anywhere(throttled, db_session, project):
    for n in range(4):
        assert give(_browser(throttled, f"192.0.2.{n}"), project, email="same@example.jp").status_code == 303
    assert give(_browser(throttled, "192.0.2.99"), project, email="Same@Example.jp").status_code == 429


def test_a_spoofed_forwarded_for_changes_nothing(throttled, db_session, project):
    for n in range(5):
        client = _browser(throttled, "198.51.100.20")
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"10.0.0.{n}"
        assert give(client, project, email=f"c{n}@example.jp").status_code == 303
    client = _browser(throttled, "198.51.100.20")
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "10.9.9.9"
    assert give(client, project, email="c9@example.jp").status_code == 429


def test_rate_limit_page_is_japanese(throttled, project):
    browser = _browser(throttled, "198.51.100.30")
    responses = [give(browser, project, email=f"d{n}@example.jp") for n in range(4)]
    assert responses[-1].status_code == 429
    assert "アクセスが集中しています" in responses[-1].get_data(as_text=True)
    assert csrf_from(browser.get(donate_url(project)).get_data(as_text=True)), "the form itself still opens"
