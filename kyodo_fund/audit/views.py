from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import render_template, request

from kyodo_fund.audit import bp
from kyodo_fund.audit.services import search_entries
from kyodo_fund.authz import admin_required
from kyodo_fund.extensions import db
from kyodo_fund.web import paginate

TOKYO = ZoneInfo("Asia/Tokyo")


def _day(name: str, *, end: bool = False) -> datetime | None:
    raw = request.args.get(name, "")
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=TOKYO)
    except ValueError:
        return None
    return day + timedelta(days=1) if end else day


@bp.get("/")
@admin_required
def index():
    filters = {k: request.args.get(k, "").strip() for k in ("action", "actor", "object_type", "object_id")}
    stmt = search_entries(
        db.session, **{k: v or None for k, v in filters.items()}, since=_day("since"), until=_day("until", end=True)
    )
    page = paginate(db.session, stmt, per_page=50)
    return render_template("audit/index.html", page=page, filters=filters, args=request.args)
