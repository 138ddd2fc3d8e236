"""Scheduled jobs: domain functions on a timer, listed in one table (``schedule.py``), run by
APScheduler in their own process (``flask jobs run``); a database lease stops two runs of one job
from overlapping, and every run is recorded for the administrators' history page."""

from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")

from kyodo_fund.jobs import views  # noqa: E402,F401
