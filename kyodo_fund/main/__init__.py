"""Public pages that belong to no single domain: the home page and the privacy notice."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from kyodo_fund.main import views  # noqa: E402,F401
