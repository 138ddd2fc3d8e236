"""Projects (寄附募集事業): organisations plan them with goals, outcome targets, partners and a budget,
staff screen them, the scheduler publishes and closes them on their dates, and organisations post
activity and evaluation reports. The public list and pages live here too; donations move the counters
through ``services.apply_gift`` / ``apply_refund``."""

from flask import Blueprint

# No url_prefix: projects are created under their organisation (/orgs/<slug>/projects/new).
bp = Blueprint("projects", __name__)

from kyodo_fund.projects import views  # noqa: E402,F401
