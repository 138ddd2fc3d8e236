"""Staff pages: one organisation's certification page (reviewers read, administrators record notices and steps)
and the list of every organisation's upcoming and overdue deadlines (sortable, paginated, CSV)."""

from __future__ import annotations

import csv
import io
import math

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from kyodo_fund.authz import found_or_404, staff_required
from kyodo_fund.certification import bp
from kyodo_fund.certification.deadlines import DEADLINE_LABELS, SORT_KEYS, upcoming_deadlines
from kyodo_fund.certification.forms import EstablishedForm, RecordForm, step_form_from_request
from kyodo_fund.certification.services import (
    CertificationError,
    record_certification,
    record_established_on,
    settings_from,
)
from kyodo_fund.certification.views import do_step, engine_error, form_error, render_status
from kyodo_fund.extensions import db
from kyodo_fund.orgs.services import get_by_slug
from kyodo_fund.projects.models import today_in_tokyo
from kyodo_fund.web import Page, current_actor
from kyodo_fund.workflow import InvalidTransition, NotPermitted, ReasonRequired


@bp.route("/admin/orgs/<org_slug>/certification", methods=["GET", "POST"])
@staff_required
def admin_org(org_slug: str) -> Response | str:
    org = found_or_404(get_by_slug(db.session, org_slug))
    record_form = RecordForm(formdata=None, prefix="new")
    established_form = EstablishedForm(formdata=None, prefix="est")
    step_form = None
    if request.method == "POST":
        if not current_user.is_admin:  # reviewers read only
            abort(404)
        op = request.form.get("op", "")
        if op == "record":
            record_form = RecordForm(prefix="new")
            form, run = (
                record_form,
                lambda: record_certification(
                    db.session,
                    current_actor(),
                    org,
                    kind=record_form.kind.data,
                    granted_on=record_form.granted_on.data,
                    today=today_in_tokyo(),
                    notice_number=record_form.notice_number.data,
                    municipality_code=record_form.municipality_code.data or None,
                    note=record_form.note.data,
                ),
            )
        elif op == "established":
            established_form = EstablishedForm(prefix="est")
            form, run = (
                established_form,
                lambda: record_established_on(
                    db.session,
                    current_actor(),
                    org,
                    established_form.established_on.data,
                    today=today_in_tokyo(),
                    note=established_form.note.data,
                ),
            )
        else:
            step_form, record_id = found_or_404(step_form_from_request(request.form))
            form, run = step_form, lambda: do_step(org, step_form, record_id, request.form.get("action", ""))
        if form.validate_on_submit():
            try:
                run()
            except CertificationError as exc:
                db.session.rollback()
                form_error(form, exc)
            except (InvalidTransition, NotPermitted, ReasonRequired) as exc:
                db.session.rollback()
                if hasattr(form, "note") and hasattr(form, "effective_on"):
                    engine_error(form, exc)
                else:
                    form.form_errors.append(_("この操作は現在の状態では行えません。"))
            else:
                db.session.commit()
                flash(_("記録しました。"), "success")
                return redirect(url_for("certification.admin_org", org_slug=org.slug))
    return render_status(
        org,
        step_form=step_form,
        template="certification/admin_org.html",
        record_form=record_form,
        established_form=established_form,
    )


CSV_COLUMNS = (
    _l("団体名"),
    _l("URL用の英字名"),
    _l("期限の種類"),
    _l("開始日"),
    _l("期限"),
    _l("状況"),
    _l("残り日数"),
)


def _state(row, today) -> str:
    d = row.deadline
    if d.is_overdue(today):
        return _("期限超過")
    return _("受付中") if d.opens_on is not None and d.is_open(today) else _("予定")


@bp.get("/admin/certification/deadlines")
@staff_required
def admin_deadlines() -> Response | str:
    from flask import render_template

    today = today_in_tokyo()
    within = min(max(request.args.get("within", 90, type=int) or 90, 1), 3660)
    kind = request.args.get("kind") if request.args.get("kind") in DEADLINE_LABELS else None
    sort = request.args.get("sort") if request.args.get("sort") in SORT_KEYS else "due"
    descending = request.args.get("dir") == "desc"
    rows = upcoming_deadlines(
        db.session,
        today,
        settings_from(current_app.config),
        within_days=within,
        kind=kind,
        sort=sort,
        descending=descending,
    )
    if request.args.get("format") == "csv":
        return _csv(rows, today)
    per_page = current_app.config["PAGE_SIZE"]
    number = max(1, request.args.get("page", 1, type=int) or 1)
    number = min(number, max(1, math.ceil(len(rows) / per_page)))
    page = Page(
        items=rows[(number - 1) * per_page : number * per_page], page=number, per_page=per_page, total=len(rows)
    )
    return render_template(
        "certification/admin_deadlines.html",
        page=page,
        today=today,
        within=within,
        kind=kind,
        sort=sort,
        descending=descending,
        kinds=DEADLINE_LABELS,
        state_of=lambda row: _state(row, today),
    )


def _csv(rows, today) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([str(c) for c in CSV_COLUMNS])
    for row in rows:
        d = row.deadline
        writer.writerow(
            [
                _safe(row.org.name),
                row.org.slug,
                _safe(d.label),
                d.opens_on.isoformat() if d.opens_on else "",
                d.due_on.isoformat(),
                _state(row, today),
                (d.due_on - today).days,
            ]
        )
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = f"attachment; filename=certification-deadlines-{today.isoformat()}.csv"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _safe(text: str) -> str:
    # A cell starting with = + - @ would be run as a formula by spreadsheet software (CSV injection).
    text = str(text)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
