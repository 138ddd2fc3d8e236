# Placeholder routes so the skeleton boots; the accounts work replaces this file.
from flask import render_template

from kyodo_fund.accounts import bp


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    return render_template("base.html")


@bp.post("/logout")
def logout():  # noqa: ANN201
    return render_template("base.html")


@bp.route("/signup", methods=["GET", "POST"])
def signup():  # noqa: ANN201
    return render_template("base.html")


@bp.get("/profile")
def profile():  # noqa: ANN201
    return render_template("base.html")
