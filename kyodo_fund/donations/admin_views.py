"""Administrator pages of the donations domain: the donation list and its CSV export, the ledger balances,
offline gifts (one at a time, or by CSV import with a preview first), and grants paid to organisations.
Reviewers see the lists; every page that changes money is for administrators only (404 for everyone else)."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask import session as http_session
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from kyodo_fund.audit.services import record
from kyodo_fund.authz import admin_required, found_or_404, staff_required
from kyodo_fund.db import utcnow
from kyodo_fund.donations import bp, listings
from kyodo_fund.donations.admin_forms import GrantForm, ImportConfirmForm, ImportUploadForm, OfflineDonationForm
from kyodo_fund.donations.imports import apply_import, drop_stash, load_stash, plan_import, stash_upload
from kyodo_fund.donations.models import Channel, DonationImport, DonationStatus
from kyodo_fund.donations.offline import (
    RECEIVING_STATES,
    GrantRefused,
    OfflineGiftRefused,
    pay_grant,
    record_offline_donation,
)
from kyodo_fund.extensions import db
from kyodo_fund.ledger.services import org_grants, project_balance
from kyodo_fund.money import format_yen
from kyodo_fund.orgs.models import Organisation
from kyodo_fund.projects.models import Project
from kyodo_fund.projects.services import get_by_slug
from kyodo_fund.web import current_actor, paginate

#: The session key holding the token of the upload awaiting confirmation.
IMPORT_SESSION_KEY = "donation_import"
#: Each row costs about 10–15 ms of ledger writes; bigger files would outlast a web worker's timeout.
WEB_MAX_ROWS = 1000

# --- lists ---------------------------------------------------------------------------------


@bp.get("/admin/donations/")
@staff_required
def admin_index() -> str:
    filters = listings.DonationFilters.from_args(request.args)
    stmt = listings.filtered_donations(filters)
    page = paginate(db.session, stmt, per_page=50)
    return render_template(
        "donations/admin/index.html",
        page=page,
        filters=filters,
        totals=listings.totals(db.session, stmt),
        projects=listings.projects_by_id(db.session, (d.project_id for d in page.items)),
        filter_projects=listings.filter_projects(db.session),
        statuses=list(DonationStatus),
        channels=list(Channel),
        general_fund=listings.GENERAL_FUND,
        refundable=(DonationStatus.PAID, DonationStatus.PARTIALLY_REFUNDED),
        **listings.LABELS,
    )


ADMIN_EXPORT_HEADER = (
    "public_id",
    "received_on",
    "status",
    "channel",
    "method",
    "project",
    "amount_yen",
    "refunded_yen",
    "processor_fee_yen",
    "platform_fee_yen",
    "donor_name",
    "donor_kana",
    "postal_code",
    "address",
    "email",
    "household",
    "anonymous",
    "receipt_preference",
    "import_batch_id",
)


@bp.get("/admin/donations/export.csv")
@admin_required
def admin_export() -> Response:
    filters = listings.DonationFilters.from_args(request.args)
    donations = list(db.session.scalars(listings.filtered_donations(filters)))
    projects = listings.projects_by_id(db.session, (d.project_id for d in donations))
    rows = (
        (
            d.public_id,
            d.received_on.isoformat() if d.received_on else "",
            d.status.value,
            d.channel.value,
            d.method.value,
            projects[d.project_id].slug if d.project_id else "",
            d.amount_yen,
            d.refunded_yen,
            d.processor_fee_yen,
            d.platform_fee_yen,
            d.donor_name,
            d.donor_kana,
            d.donor_postal_code,
            d.donor_address,
            d.donor_email,
            d.donor_household,
            "true" if d.anonymous else "false",
            d.receipt_preference.value,
            d.import_batch_id or "",
        )
        for d in donations
    )
    body = listings.to_csv(ADMIN_EXPORT_HEADER, rows)
    # Who took donors' personal data out, and which part of it (privacy-and-security.md test 36).
    record(
        db.session,
        current_actor(),
        "donations.exported",
        ("Donation", None),
        after={"filters": filters.as_args(), "rows": len(donations)},
    )
    db.session.commit()
    return listings.csv_response(body, f"donations-{utcnow():%Y%m%d-%H%M%S}.csv")


@bp.get("/admin/ledger")
@staff_required
def admin_ledger() -> str:
    overview = listings.ledger_overview(db.session)
    projects = listings.projects_by_id(db.session, overview.project_funds)
    orgs = {
        o.id: o for o in db.session.scalars(select(Organisation).where(Organisation.id.in_(overview.grants_by_org)))
    }
    return render_template("donations/admin/ledger.html", overview=overview, projects=projects, orgs=orgs)


# --- offline gifts -------------------------------------------------------------------------


def _receiving_projects() -> list[Project]:
    stmt = select(Project).where(Project.status.in_(RECEIVING_STATES)).order_by(Project.title)
    return list(db.session.scalars(stmt))


@bp.route("/admin/donations/offline/new", methods=["GET", "POST"])
@admin_required
def admin_new_offline() -> Any:
    form = OfflineDonationForm()
    projects = {p.slug: p for p in _receiving_projects()}
    form.project.choices = [SelectChoice("", _("一般寄附（事業指定なし）"))] + [
        SelectChoice(slug, f"{p.title}（{p.slug}）") for slug, p in projects.items()
    ]
    if form.validate_on_submit():
        try:
            donation = record_offline_donation(
                db.session,
                current_actor(),
                received_on=form.received_on.data,
                amount_yen=form.amount_yen.data,
                method=form.method.data,
                project=projects.get(form.project.data),
                donor_name=form.donor_name.data,
                donor_kana=form.donor_kana.data,
                postal_code=form.postal_code.data,
                address=form.address.data,
                email=form.email.data,
                household=form.household.data,
                anonymous=form.anonymous.data,
                receipt_preference=form.receipt_preference.data,
                platform_fee_pct=current_app.config["PLATFORM_FEE_PCT"],
            )
        except OfflineGiftRefused as exc:
            db.session.rollback()
            for problem in exc.problems:
                if problem.field in form:
                    form[problem.field].errors = [*form[problem.field].errors, problem.message]
                else:
                    form.form_errors.append(problem.message)
        else:
            db.session.commit()
            flash(_("寄附（%(amount)s）を記録しました。", amount=format_yen(donation.amount_yen)), "success")
            return redirect(url_for("donations.admin_index", channel="offline"))
    return render_template("donations/admin/offline_form.html", form=form)


# --- CSV import ----------------------------------------------------------------------------


def _stash_folder() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "donation_imports"


@bp.route("/admin/donations/import", methods=["GET", "POST"])
@admin_required
def admin_import() -> Any:
    """Upload → validation report, or a preview to confirm → import → the batch's result (PRG)."""
    upload, confirm = ImportUploadForm(), ImportConfirmForm()
    step = request.form.get("step")
    if request.method == "POST" and step == "upload" and upload.validate_on_submit():
        return _preview(upload)
    if request.method == "POST" and step in ("confirm", "cancel") and confirm.validate_on_submit():
        return _confirm(confirm, cancel=step == "cancel")
    batch = db.session.get(DonationImport, request.args.get("done", type=int) or 0)
    return render_template("donations/admin/import.html", upload=upload, batch=batch, plan=None)


def _preview(upload: ImportUploadForm) -> Any:
    storage = upload.csv_file.data
    data = storage.read()
    filename = Path(storage.filename or "import.csv").name
    plan = plan_import(db.session, data, filename=filename)
    confirm = ImportConfirmForm()
    if len(plan.rows) > WEB_MAX_ROWS:
        flash(
            _(
                "%(max)s行を超えるファイルは、サーバーで flask donations import を使って取り込んでください。",
                max=f"{WEB_MAX_ROWS:,}",
            ),
            "error",
        )
        return render_template("donations/admin/import.html", upload=ImportUploadForm(formdata=None), plan=None)
    if plan.ok:
        _forget_pending_upload()
        token = stash_upload(_stash_folder(), data)
        http_session[IMPORT_SESSION_KEY] = {"token": token, "filename": filename, "sha256": plan.sha256}
        confirm.token.data = token
    return render_template(
        "donations/admin/import.html", upload=ImportUploadForm(formdata=None), plan=plan, confirm=confirm
    )


def _forget_pending_upload() -> dict | None:
    pending = http_session.pop(IMPORT_SESSION_KEY, None)
    if pending:
        drop_stash(_stash_folder(), pending.get("token", ""))
    return pending


def _confirm(confirm: ImportConfirmForm, *, cancel: bool) -> Any:
    pending = http_session.get(IMPORT_SESSION_KEY) or {}
    # Only the upload this browser previewed: the token in the form must be the one in the signed session.
    sent, kept = str(confirm.token.data or "").encode(), str(pending.get("token", "")).encode()
    if not pending or not hmac.compare_digest(sent, kept):
        flash(_("確認中のファイルが見つかりません。もう一度アップロードしてください。"), "error")
        return redirect(url_for("donations.admin_import"))
    if cancel:
        _forget_pending_upload()
        flash(_("取り込みを取り消しました。"), "success")
        return redirect(url_for("donations.admin_import"))
    data = load_stash(_stash_folder(), pending["token"])
    if data is None:
        http_session.pop(IMPORT_SESSION_KEY, None)
        flash(_("確認中のファイルが見つかりません。もう一度アップロードしてください。"), "error")
        return redirect(url_for("donations.admin_import"))
    plan = plan_import(db.session, data, filename=pending["filename"])
    if plan.sha256 != pending["sha256"] or not plan.ok:
        # Something changed since the preview (a project closed, another import ran): show the new report.
        _forget_pending_upload()
        return render_template(
            "donations/admin/import.html", upload=ImportUploadForm(formdata=None), plan=plan, confirm=None
        )
    try:
        batch = apply_import(db.session, current_actor(), plan, platform_fee_pct=current_app.config["PLATFORM_FEE_PCT"])
        db.session.commit()
    except IntegrityError:
        # The same rows were committed by a concurrent import; nothing of ours was kept.
        db.session.rollback()
        flash(_("同じ行が同時に取り込まれました。もう一度アップロードして確認してください。"), "error")
        _forget_pending_upload()
        return redirect(url_for("donations.admin_import"))
    _forget_pending_upload()
    return redirect(url_for("donations.admin_import", done=batch.id))


# --- grants --------------------------------------------------------------------------------


def _project_or_404(slug: str) -> Project:
    return found_or_404(get_by_slug(db.session, slug))


@bp.get("/admin/projects/<slug>/grants")
@staff_required
def admin_grants(slug: str) -> str:
    project = _project_or_404(slug)
    grants = [g for g in org_grants(db.session, project.organisation_id) if g.project_id == project.id]
    return render_template(
        "donations/admin/grants.html",
        project=project,
        grants=grants,
        balance=project_balance(db.session, project.id),
    )


@bp.route("/admin/projects/<slug>/grants/new", methods=["GET", "POST"])
@admin_required
def admin_new_grant(slug: str) -> Any:
    project = _project_or_404(slug)
    form = GrantForm()
    if form.validate_on_submit():
        try:
            pay_grant(
                db.session,
                current_actor(),
                project,
                amount_yen=form.amount_yen.data,
                paid_on=form.paid_on.data,
                bank_reference=form.bank_reference.data,
                memo=form.memo.data or "",
            )
        except GrantRefused as exc:
            db.session.rollback()
            form[exc.field].errors = [*form[exc.field].errors, exc.message]
        else:
            db.session.commit()
            flash(_("助成の支払いを記録しました。"), "success")
            return redirect(url_for("donations.admin_grants", slug=project.slug))
    return render_template(
        "donations/admin/grant_form.html", form=form, project=project, balance=project_balance(db.session, project.id)
    )
