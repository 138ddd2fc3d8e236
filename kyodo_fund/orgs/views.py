# Placeholder routes so the skeleton boots; the organisations work replaces this file.
from flask import render_template

from kyodo_fund.orgs import bp


@bp.get("/")
def directory():  # noqa: ANN201
    return render_template("base.html")


@bp.route("/new", methods=["GET", "POST"])
def new():  # noqa: ANN201
    return render_template("base.html")


@bp.get("/mine")
def mine():  # noqa: ANN201
    return render_template("base.html")
