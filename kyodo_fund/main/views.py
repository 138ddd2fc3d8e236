from flask import render_template

from kyodo_fund.main import bp


@bp.get("/")
def home():
    return render_template("main/home.html")


@bp.get("/privacy")
def privacy():
    return render_template("main/privacy.html")


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}
