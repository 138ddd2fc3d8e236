"""Organisations (団体): registration by NPO members, screening by staff, members and invitations,
officers (役員名簿), documents, and the public profile of approved organisations."""

from flask import Blueprint

bp = Blueprint("orgs", __name__, url_prefix="/orgs")

from kyodo_fund.orgs import views  # noqa: E402,F401
