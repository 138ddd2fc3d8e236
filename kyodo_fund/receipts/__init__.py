"""Receipts (寄附金受領証明書 / 領収書), annual statements and 寄附者名簿. ``issuers`` who issues and with which
wording (R2–R5) · ``numbering`` gapless counters · ``build`` → ``snapshot`` → ``pdf`` (+ ``typesetting``;
``rendering`` the worker pool) · ``services`` issue/void/再発行/send · ``refunds`` corrections after refunds and
disputes · ``statements`` the annual run · ``registers`` donor registers · ``tasks`` jobs · ``cli`` · ``views`` /
``admin_views`` pages."""

from flask import Blueprint

bp = Blueprint("receipts", __name__)

from kyodo_fund.receipts import admin_views, views  # noqa: E402,F401
