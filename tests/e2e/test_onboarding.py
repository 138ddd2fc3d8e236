"""A new NPO member signs up, registers an organisation, an administrator approves it, the member
sees it approved and its public profile appears — in Debian Chromium against the served app."""

from __future__ import annotations

import pytest

from kyodo_fund.accounts.models import User, UserRole
from kyodo_fund.accounts.services import hash_password
from kyodo_fund.db import utcnow
from kyodo_fund.extensions import db
from tests.e2e.conftest import link_in, wait_for_mail

pytestmark = pytest.mark.e2e
PASSWORD = "a long enough passphrase"


@pytest.fixture
def admin_email(live_app):
    with live_app.app_context():
        db.session.add(
            User(
                email="e2e-admin@example.jp",
                password_hash=hash_password(PASSWORD),
                role=UserRole.ADMIN,
                email_confirmed_at=utcnow(),
                name="管理者",
            )
        )
        db.session.commit()
    return "e2e-admin@example.jp"


def _log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/account/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_sign_up_register_approve_and_publish_profile(live_app, live_server, page, inbox, admin_email):
    base = live_server.url
    member = "e2e-member@example.jp"

    # 1. Sign up and confirm the address from the e-mail that really went through SMTP.
    page.goto(f"{base}/")
    assert page.locator("html").get_attribute("lang") == "ja"
    page.click("button.nav-toggle")  # a phone-sized window: the menu opens first
    page.click("nav >> text=新規登録")
    page.fill("#email", member)
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.fill("#name", "協働 花子")
    page.click("main button[type=submit]")
    confirm = link_in(wait_for_mail(inbox, member, app=live_app, subject="確認"), r"http://\S+/account/confirm/\S+")
    page.goto(confirm.replace("http://127.0.0.1:5000", base))
    _log_in(page, base, member)

    # 2. Register an organisation, add an officer, submit it for screening.
    page.goto(f"{base}/orgs/new")
    page.fill("#name", "NPO法人ブラウザテストの会")
    page.fill("#name_kana", "ブラウザテストノカイ")
    page.fill("#slug", "browser-test")
    page.select_option("#legal_form", "npo_houjin")
    page.fill("#corporate_number", "7000012050002")
    page.fill("#representative_name", "協働 花子")
    page.fill("#postal_code", "380-8570")
    page.select_option("#municipality_code", "202011")
    page.fill("#address", "長野県長野市大字南長野字幅下692-2")
    page.check("input[name=activity_categories][value='13']")
    page.fill("#strengths", "子どもの居場所づくり")
    page.fill("#description", "子どもの居場所をつくっています。")
    page.fill("#email", "office@example.jp")
    page.select_option("#fiscal_year_end_month", "3")
    page.click("main form button.primary")
    page.wait_for_url("**/orgs/browser-test/officers")
    page.fill("#name", "協働 花子")
    page.select_option("#title", index=1)
    page.fill("#address", "長野県長野市1-1")
    page.click("main form button.primary")
    page.goto(f"{base}/orgs/browser-test/manage")
    page.click("button:has-text('審査を申請する')")
    page.wait_for_load_state()
    assert page.locator("button:has-text('審査を申請する')").count() == 0

    # 3. The administrator screens and approves it.
    page.context.clear_cookies()
    _log_in(page, base, admin_email)
    page.goto(f"{base}/orgs/review")
    page.click("text=NPO法人ブラウザテストの会")
    page.click("button:has-text('審査を開始する')")
    page.wait_for_load_state()
    page.click("button:has-text('承認する')")
    page.wait_for_load_state()
    approval = wait_for_mail(inbox, member, app=live_app, subject="承認")
    assert "承認" in approval["Subject"]

    # 4. The member sees it approved; the public profile is there for anyone.
    page.context.clear_cookies()
    _log_in(page, base, member)
    page.goto(f"{base}/orgs/mine")
    row = page.locator("text=NPO法人ブラウザテストの会").locator("xpath=ancestor::*[self::tr or self::li][1]")
    assert "承認" in row.inner_text()
    page.context.clear_cookies()
    response = page.goto(f"{base}/orgs/browser-test")
    assert response.status == 200
    assert page.locator("h1").inner_text().strip() == "NPO法人ブラウザテストの会"
    page.goto(f"{base}/orgs/?q=ブラウザテスト")
    assert page.get_by_text("NPO法人ブラウザテストの会").count() >= 1
