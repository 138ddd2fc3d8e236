from flask import render_template

from kyodo_fund.authz import admin_required
from kyodo_fund.extensions import db
from kyodo_fund.jobs import bp
from kyodo_fund.jobs.runner import last_runs
from kyodo_fund.jobs.schedule import SCHEDULE


@bp.get("/")
@admin_required
def history():
    return render_template("jobs/history.html", runs=last_runs(db.session), schedule=SCHEDULE)
