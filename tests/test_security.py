"""Security headers on every kind of response; no stack traces; CSRF everywhere it matters."""

import pytest

from kyodo_fund.factory import create_app


def _assert_headers(response, hsts=False):
    csp = response.headers["Content-Security-Policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert ("Strict-Transport-Security" in response.headers) is hsts


@pytest.mark.parametrize("path", ["/", "/no-such-page", "/static/css/app.css"])
def test_headers_on_pages_errors_and_static_files(client, path):
    _assert_headers(client.get(path))


def test_500_page_has_headers_and_no_stack_trace(app, tmp_path, database_url):
    prod = create_app("testing", overrides={"DATABASE_URL": database_url, "PROPAGATE_EXCEPTIONS": False, "HSTS": True})

    @prod.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = prod.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "secret internals" not in body and "Traceback" not in body
    assert "システムエラー" in body
    _assert_headers(response, hsts=True)


def test_production_cookies_are_secure_and_host_prefixed(monkeypatch, tmp_path):
    monkeypatch.setenv("KYODO_SECRET_KEY", "x" * 32)
    monkeypatch.setenv("KYODO_INSTANCE_PATH", str(tmp_path))
    prod = create_app("production")
    assert prod.config["SESSION_COOKIE_SECURE"] and prod.config["REMEMBER_COOKIE_SECURE"]
    assert prod.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert prod.config["SESSION_COOKIE_HTTPONLY"] and prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_post_without_csrf_token_is_rejected(client):
    response = client.post("/account/logout")
    assert response.status_code == 400


def test_csrf_exempt_views_are_only_the_stripe_webhook(app):
    from kyodo_fund.extensions import csrf

    exempt = set(csrf._exempt_views) | {bp for bp in csrf._exempt_blueprints}
    assert exempt <= {"kyodo_fund.donations.webhook.stripe_webhook", "kyodo_fund.payments.views.stripe_webhook"}


def test_language_switch_to_english_and_back(client):
    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert '<html lang="en">' in client.get("/").get_data(as_text=True), "choice is remembered"
    assert '<html lang="ja">' in client.get("/?lang=ja").get_data(as_text=True)
