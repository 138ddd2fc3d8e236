"""Accounts: sign-up with e-mail confirmation, login/logout with throttling, password reset,
and the donor profile (name, kana, address) later printed on receipts."""

from flask import Blueprint

bp = Blueprint("accounts", __name__, url_prefix="/account")

from kyodo_fund.accounts import views  # noqa: E402,F401
