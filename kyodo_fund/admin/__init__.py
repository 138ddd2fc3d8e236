"""Staff area: the dashboard of queues (screening, later donations and loans) for reviewers and
administrators."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from kyodo_fund.admin import views  # noqa: E402,F401
