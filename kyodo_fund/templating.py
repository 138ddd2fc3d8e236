"""Jinja filters and globals: the one place yen and dates are formatted for pages."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, request, url_for
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf

from kyodo_fund.money import format_yen
from kyodo_fund.wareki import format_wareki

TOKYO = ZoneInfo("Asia/Tokyo")


def yen(amount: int | None) -> str:
    return "" if amount is None else format_yen(int(amount))


def local_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else value.astimezone(TOKYO).strftime(fmt)


def iso_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(TOKYO).date()
    return value.isoformat()


def url_with(**changes: object) -> str:
    """The current page's URL with some query arguments replaced (pagination, filters)."""
    from urllib.parse import urlencode

    args = request.args.to_dict()
    args.update({k: v for k, v in changes.items() if v is not None})
    if request.endpoint is None:  # error pages for unknown URLs
        return f"{request.path}?{urlencode(args)}"
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def register(app: Flask) -> None:
    app.jinja_env.filters.update(yen=yen, local_dt=local_dt, iso_date=iso_date, wareki=format_wareki)
    app.jinja_env.globals.update(
        url_with=url_with,
        nav_items=nav_items,
        has_endpoint=lambda e: e in app.view_functions,
        csrf_token=generate_csrf,
        current_locale=lambda: str(get_locale()),
    )


#: (endpoint, label, who): who is "all", "user", "member", "staff" or "admin". Endpoints that
#: are not registered (a domain not installed yet) are skipped.
NAV = (
    ("projects.index", "寄附する", "all"),
    ("orgs.directory", "団体をさがす", "all"),
    ("tax.simulator", "税制優遇シミュレーション", "all"),
    ("donations.dashboard", "マイページ", "user"),
    ("orgs.mine", "団体の管理", "user"),
    ("admin.dashboard", "管理", "staff"),
)


def nav_items() -> list[dict]:
    from flask import current_app
    from flask_babel import gettext
    from flask_login import current_user

    items = []
    for endpoint, label, who in NAV:
        if endpoint not in current_app.view_functions:
            continue
        if who != "all" and not current_user.is_authenticated:
            continue
        if who == "staff" and not current_user.is_staff:
            continue
        if who == "admin" and not current_user.is_admin:
            continue
        url = url_for(endpoint)
        items.append({"url": url, "label": gettext(label), "active": request.path.startswith(url) and url != "/"})
    return items
