"""Helpers for the online-giving tests: the donation form, the stand-in's pay page, webhooks
posted to the app exactly as the stand-in signed them, and reading the ledger back."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlsplit

from sqlalchemy import func, select

from kyodo_fund.donations.models import Donation, StripeEvent
from kyodo_fund.ledger.models import LedgerAccount, LedgerEntry, LedgerGroup
from tests.conftest import csrf_from, login
from tests.fixtures_stripe import TEST_WEBHOOK_SECRET, sign_payload

WEBHOOK = "/payments/stripe/webhook"

DONOR = {
    "name": "信州 花子",
    "name_kana": "シンシュウ ハナコ",
    "postal_code": "380-8570",
    "address": "長野県長野市大字南長野字幅下692-2",
    "email": "hanako@example.jp",
    "phone": "",
    "message": "応援しています",
}


def donate_url(project) -> str:
    return f"/projects/{project.slug}/donate"


def give(client, project, *, preset: str = "3000", custom: str = "", monthly: bool = False, **fields):
    """Submit the donation form as a browser would (CSRF token from the form page)."""
    page = client.get(donate_url(project))
    assert page.status_code == 200, page.status_code
    data = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "preset": preset,
        "custom_amount": custom,
        "frequency": "monthly" if monthly else "one_off",
        **DONOR,
        **fields,
    }
    return client.post(donate_url(project), data=data)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def pay_and_return(client, stripe_standin, checkout_url: str):
    """Press "pay" on the stand-in's hosted page, then follow its 303 back to our success page."""
    paid = stripe_standin.pay(checkout_url)
    assert paid.status == 303, paid.text
    return client.get(path_of(paid.headers["Location"]))


def post_delivery(client, delivery):
    """POST a webhook body and signature exactly as the stand-in delivered them."""
    return client.post(
        WEBHOOK, data=delivery.body, headers={"Stripe-Signature": delivery.signature}, content_type="application/json"
    )


def event_payload(event_type: str, obj: dict, *, created: int | None = None, event_id: str | None = None) -> bytes:
    event = {
        "id": event_id or f"evt_test_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": created or int(time.time()),
        "livemode": False,
        "api_version": "2025-01-01",
        "data": {"object": obj},
    }
    return json.dumps(event).encode()


def post_signed(client, payload: bytes, *, signed_at: int | None = None, secret: str = TEST_WEBHOOK_SECRET):
    header = sign_payload(payload, secret, signed_at if signed_at is not None else int(time.time()))
    return client.post(WEBHOOK, data=payload, headers={"Stripe-Signature": header}, content_type="application/json")


def donation_by_session(session, checkout_url: str) -> Donation:
    session_id = urlsplit(checkout_url).path.rsplit("/", 1)[-1]
    return session.scalar(select(Donation).where(Donation.stripe_checkout_session_id == session_id))


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def event_rows(session) -> int:
    return count(session, StripeEvent)


def groups_of(session, donation_id: int) -> list[LedgerGroup]:
    return list(
        session.scalars(select(LedgerGroup).where(LedgerGroup.donation_id == donation_id).order_by(LedgerGroup.id))
    )


def lines_of(session, group: LedgerGroup) -> list[tuple[str, int]]:
    """The group's entries as ``(account key, amount)`` in posting order (debits positive)."""
    rows = session.execute(
        select(LedgerAccount.key, LedgerEntry.amount_yen)
        .join(LedgerEntry.account)
        .where(LedgerEntry.group_id == group.id)
        .order_by(LedgerEntry.id)
    )
    return [(key, int(amount)) for key, amount in rows]


def signed_in_client(app, db_session, user):
    db_session.commit()
    client = app.test_client()
    response = login(client, user.email)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client
