"""The public JSON API (``/api/v1``): read-only GET endpoints, no session state needed, no CSRF.
``params`` parses query parameters strictly and answers 400 naming the parameter; ``views`` holds the
endpoints (today the tax estimate, the JSON twin of ``tax.simulator``)."""

from flask import Blueprint

# GET only, so CSRFProtect never applies (and a POST is a 405: routing fails before the CSRF check runs).
bp = Blueprint("api", __name__, url_prefix="/api/v1")

from kyodo_fund.api import views  # noqa: E402,F401
