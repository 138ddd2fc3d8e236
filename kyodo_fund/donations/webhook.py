"""``POST /payments/stripe/webhook``: the only CSRF-exempt view; Stripe's HMAC authenticates it.

Verification runs on the raw body before anything parses it (payments.md W1–W3). The answer is
what Stripe needs for its retries: 400 for what we will never accept, 200 once the event is
applied (or known, or not ours), 500 when applying it failed — everything rolled back, so the
next delivery starts clean. Mail goes out after the commit, through the outbox (W8).
"""

from __future__ import annotations

import logging

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from kyodo_fund.donations import bp
from kyodo_fund.donations.events import handle_event
from kyodo_fund.extensions import csrf, db
from kyodo_fund.payments.stripe_gateway import InvalidSignature, get_gateway

log = logging.getLogger(__name__)
security_log = logging.getLogger("kyodo_fund.security")


@bp.post("/payments/stripe/webhook")
@csrf.exempt
def stripe_webhook() -> tuple[Response, int]:
    payload = request.get_data()
    gateway = get_gateway(current_app)
    try:
        event = gateway.verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except InvalidSignature as exc:
        security_log.warning("webhook_signature_invalid from %s: %s", request.remote_addr, exc)
        return jsonify(error="invalid signature"), 400
    if event.livemode != gateway.livemode:
        # A test-mode event at the live endpoint (or the reverse): not ours to apply (W5).
        log.warning("stripe event %s has livemode=%s; ignored", event.id, event.livemode)
        return jsonify(received=True, ignored="livemode"), 200
    try:
        handle_event(db.session, gateway, event, source="webhook", config=current_app.config)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("stripe event %s (%s) failed; Stripe will deliver it again", event.id, event.type)
        return jsonify(error="processing failed"), 500
    return jsonify(received=True), 200
