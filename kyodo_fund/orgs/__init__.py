"""Organisations (団体): registration by NPO members, screening by staff, members and invitations,
officers (役員名簿), documents, and the public directory and profile of approved organisations.

``data`` reference lists · ``corporate_number`` 法人番号 check digit · ``workflow`` the screening table ·
``services`` registering/editing/screening/queries · ``members`` invitations · ``documents`` PDF uploads.
"""

from flask import Blueprint

bp = Blueprint("orgs", __name__, url_prefix="/orgs")

from kyodo_fund.orgs import views  # noqa: E402,F401
