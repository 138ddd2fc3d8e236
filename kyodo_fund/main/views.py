from flask import render_template

from kyodo_fund.main import bp


@bp.get("/")
def home():  # noqa: ANN201
    return render_template("main/home.html")


@bp.get("/privacy")
def privacy():  # noqa: ANN201
    return render_template("main/privacy.html")


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    return {"status": "ok"}
