from flask import render_template

from kyodo_fund.admin import bp
from kyodo_fund.authz import staff_required


@bp.get("/")
@staff_required
def dashboard():
    return render_template("admin/dashboard.html")
