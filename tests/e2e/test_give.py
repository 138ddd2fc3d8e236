"""A visitor finds a project, gives ¥3,000 on the Stripe stand-in's hosted page, lands on the
thank-you page and sees the project's progress move — in Debian Chromium against the served app,
with the stand-in delivering its webhooks to that app."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kyodo_fund.db import Base
from kyodo_fund.donations.models import Donation, DonationStatus, StripeEvent
from kyodo_fund.extensions import db
from kyodo_fund.factory import create_app
from tests.e2e.conftest import _fresh_database, wait_for_mail
from tests.factories import make_org, make_project
from tests.fixtures_stripe import TEST_WEBHOOK_SECRET, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_app(smtp_server, database_url, tmp_path_factory, stripe_standin):
    """The conftest's served app, plus Stripe settings known at start-up (the CSP's form-action
    is built then, and must name the stand-in's origin for the redirect to its pay page)."""
    controller, _ = smtp_server
    tmp = tmp_path_factory.mktemp("e2e_give")
    app = create_app(
        "testing",
        overrides={
            "DATABASE_URL": _fresh_database(database_url, tmp, "give"),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": controller.port,
            "MAIL_SEND_AFTER_COMMIT": True,
            "UPLOAD_DIR": str(tmp / "uploads"),
            "PROPAGATE_EXCEPTIONS": False,
            "STRIPE_SECRET_KEY": "",
            "STRIPE_API_BASE": stripe_standin.base_url,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        },
    )
    app.testing = False
    Base.metadata.create_all(app.extensions["kyodo_db_engine"])
    yield app
    app.extensions["kyodo_db_engine"].dispose()


@pytest.fixture(scope="module")
def stripe_webhooks(live_server, stripe_standin):
    """The stand-in delivers every event to the served app, as Stripe would."""
    webhook_id = stripe_standin.register_webhook(f"{live_server.url}/payments/stripe/webhook", TEST_WEBHOOK_SECRET)
    yield
    stripe_standin.unregister_webhook(webhook_id)


@pytest.fixture
def project_slug(live_app, stripe_standin):
    stripe_standin.reset()
    with live_app.app_context():
        org = make_org(db.session, name="NPO法人信州こども応援団")
        project = make_project(db.session, org, slug="e2e-kodomo-shokudo", title="山あいの子ども食堂", goal_yen=100_000)
        db.session.commit()
        return project.slug


def test_visitor_gives_and_sees_the_progress_move(
    live_app, live_server, stripe_webhooks, page, inbox, project_slug, stripe_standin
):
    base = live_server.url

    # Find the project through the public list's search box.
    page.goto(f"{base}/projects/")
    page.fill("#q", "子ども食堂")
    page.click("form[role=search] button[type=submit]")
    page.click("main a:has-text('山あいの子ども食堂')")
    page.wait_for_url(f"**/projects/{project_slug}")
    assert page.locator(".funding-facts strong").inner_text() == "¥0"

    # The donation form: the ¥3,000 preset, donor details, one-off.
    page.click("main a.button.primary:has-text('寄附する')")
    page.wait_for_url(f"**/projects/{project_slug}/donate")
    page.check("input[name=preset][value='3000']")
    page.check("input[name=frequency][value='one_off']")
    page.fill("#name", "信州 花子")
    page.fill("#name_kana", "しんしゅう はなこ")
    page.fill("#postal_code", "3808570")
    page.fill("#address", "長野県長野市大字南長野字幅下692-2")
    page.fill("#email", "e2e-donor@example.jp")
    assert page.locator(".purpose-notice").is_visible()
    honeypot = page.locator("#website").bounding_box()
    assert honeypot["x"] + honeypot["width"] < 0, "the honeypot stays off-screen"
    page.click("main button:has-text('お支払いへ進む')")

    # Stripe's hosted page (the stand-in): the 303 after our form POST was allowed by the CSP.
    page.wait_for_url(re.compile(re.escape(stripe_standin.base_url) + r"/pay/cs_test_\w+"))
    assert "¥3,000" in page.inner_text("main")
    page.click("button[value=pay]")

    # Back on our thank-you page, fulfilled by the success page (or the webhook, whichever came first).
    page.wait_for_url(re.compile(r".*/donations/[0-9a-f]{32}/thanks\?session_id=cs_test_\w+"))
    assert "ご寄附ありがとうございます" in page.inner_text("main")
    page.click("main a:has-text('事業のページで寄附の状況を見る')")
    page.wait_for_url(f"**/projects/{project_slug}")
    assert page.locator(".funding-facts strong").inner_text() == "¥3,000"
    assert page.locator("progress.funding-bar").get_attribute("value") == "3000"
    assert "寄附者 1人" in page.inner_text(".funding-facts")

    thanks = wait_for_mail(inbox, "e2e-donor@example.jp", app=live_app)
    assert "ご寄附ありがとうございます" in thanks["Subject"]

    with live_app.app_context():
        (donation,) = db.session.scalars(select(Donation)).all()
        assert donation.status == DonationStatus.PAID and donation.donor_kana == "シンシュウ ハナコ"

        def webhook_recorded() -> bool:
            db.session.remove()
            return (
                db.session.scalar(select(StripeEvent.id).where(StripeEvent.type == "checkout.session.completed"))
                is not None
            )

        wait_until(webhook_recorded)
        db.session.remove()
