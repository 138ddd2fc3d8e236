"""Donations: giving through Stripe Checkout (one-off and monthly), fulfilment from the success page
and the webhook through one idempotent function, refunds and disputes, offline gifts and their CSV
import, and the donor, organisation and administrator dashboards."""

from flask import Blueprint

bp = Blueprint("donations", __name__)

from kyodo_fund.donations import admin_views, org_views, views, webhook  # noqa: E402,F401
