"""Tax relief for donors (information only): the estimator (``estimator``: F1–F5 and corporate limits as
pure integer-yen functions), the issuer kinds the tax rules know (``kinds``), and the public simulator page.
The JSON twin of the simulator lives in ``kyodo_fund.api``."""

from flask import Blueprint

bp = Blueprint("tax", __name__, url_prefix="/tax")

from kyodo_fund.tax import views  # noqa: E402,F401
