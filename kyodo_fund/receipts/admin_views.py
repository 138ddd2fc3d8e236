"""Staff pages: the list with search, filters and the "needs data" queue (reviewers may look), and the actions
(resend, void, 再発行, PDF and ZIP download), which are for administrators only."""

from __future__ import annotations

import tempfile
import zipfile

from flask import Response, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from kyodo_fund.audit.services import record
from kyodo_fund.authz import admin_required, found_or_404, staff_required
from kyodo_fund.extensions import db
from kyodo_fund.receipts import bp
from kyodo_fund.receipts.forms import ActionForm, ReasonForm
from kyodo_fund.receipts.models import Receipt, ReceiptHold, ReceiptKind, ReceiptStatus
from kyodo_fund.receipts.queries import FILTERS, admin_receipts, needs_data
from kyodo_fund.receipts.services import (
    ReceiptError,
    current_pdf,
    reissue_receipt,
    resend_receipt,
    verification_status,
    void_receipt,
)
from kyodo_fund.receipts.views import pdf_response
from kyodo_fund.web import current_actor, paginate

#: A ZIP holds at most this many PDFs; narrow the filters for more.
ZIP_LIMIT = 2000
ZIP_SPOOL_BYTES = 32 * 1024 * 1024


def _receipt_or_404(receipt_id: int) -> Receipt:
    return found_or_404(db.session.get(Receipt, receipt_id))


@bp.get("/admin/receipts/")
@staff_required
def admin_index() -> str:
    filters = {key: request.args.get(key, "").strip() for key in FILTERS}
    page = paginate(db.session, admin_receipts(filters))
    holds = list(db.session.execute(needs_data().limit(50)))
    holds_total = db.session.scalar(select(func.count()).select_from(ReceiptHold)) or 0
    return render_template(
        "receipts/admin_index.html",
        page=page,
        filters=filters,
        holds=holds,
        holds_total=holds_total,
        statuses=ReceiptStatus,
        kinds=ReceiptKind,
    )


def _render_show(receipt: Receipt, *, void_form=None, reissue_form=None, status: int = 200):
    copies = db.session.scalars(
        select(Receipt).where(Receipt.reissue_of_id == receipt.id).order_by(Receipt.reissue_seq)
    ).all()
    page = render_template(
        "receipts/admin_show.html",
        receipt=receipt,
        state=verification_status(db.session, receipt),
        copies=copies,
        void_form=void_form or ReasonForm(prefix="void"),
        reissue_form=reissue_form or ReasonForm(prefix="reissue"),
        resend_form=ActionForm(prefix="resend"),
    )
    return page, status


@bp.get("/admin/receipts/<int:receipt_id>")
@admin_required
def admin_show(receipt_id: int):
    return _render_show(_receipt_or_404(receipt_id))


@bp.get("/admin/receipts/<int:receipt_id>.pdf")
@admin_required
def admin_pdf(receipt_id: int) -> Response:
    receipt = _receipt_or_404(receipt_id)
    record(db.session, current_actor(), "receipts.download", receipt)
    db.session.commit()
    return pdf_response(receipt)


@bp.post("/admin/receipts/<int:receipt_id>/resend")
@admin_required
def admin_resend(receipt_id: int) -> Response:
    receipt = _receipt_or_404(receipt_id)
    if not ActionForm(prefix="resend").validate_on_submit():
        flash(_("もう一度お試しください。"), "error")
    elif resend_receipt(db.session, receipt, current_actor()):
        db.session.commit()
        flash(
            _(
                "%(number)s を %(email)s に再送信しました。",
                number=receipt.display_number,
                email=receipt.recipient_email,
            ),
            "success",
        )
    else:
        flash(_("メールアドレスがないため送信できません。郵送してください。"), "error")
    return redirect(url_for("receipts.admin_show", receipt_id=receipt.id))


@bp.post("/admin/receipts/<int:receipt_id>/void")
@admin_required
def admin_void(receipt_id: int):
    receipt = _receipt_or_404(receipt_id)
    form = ReasonForm(prefix="void")
    if not form.validate_on_submit():
        return _render_show(receipt, void_form=form, status=400)
    try:
        void_receipt(db.session, receipt, current_actor(), form.reason.data)
    except ReceiptError as exc:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, exc.message]
        return _render_show(receipt, void_form=form, status=400)
    db.session.commit()
    flash(_("%(number)s を取り消しました。", number=receipt.display_number), "success")
    return redirect(url_for("receipts.admin_show", receipt_id=receipt.id))


@bp.post("/admin/receipts/<int:receipt_id>/reissue")
@admin_required
def admin_reissue(receipt_id: int):
    receipt = _receipt_or_404(receipt_id)
    form = ReasonForm(prefix="reissue")
    if not form.validate_on_submit():
        return _render_show(receipt, reissue_form=form, status=400)
    try:
        copy = reissue_receipt(db.session, receipt, current_actor(), form.reason.data)
    except ReceiptError as exc:
        db.session.rollback()
        form.reason.errors = [*form.reason.errors, exc.message]
        return _render_show(receipt, reissue_form=form, status=400)
    db.session.commit()
    flash(_("%(number)s を再発行しました。", number=copy.display_number), "success")
    return redirect(url_for("receipts.admin_show", receipt_id=copy.id))


@bp.get("/admin/receipts/export.zip")
@admin_required
def admin_zip() -> Response:
    """The selected receipts (``?id=…``), or else everything the filters match, as one ZIP of PDFs."""
    ids = request.args.getlist("id", type=int)
    filters = {key: request.args.get(key, "").strip() for key in FILTERS}
    stmt = select(Receipt).where(Receipt.id.in_(ids)).order_by(Receipt.id) if ids else admin_receipts(filters)
    # Spooled: small archives stay in memory, big ones go to a temporary file instead of filling it.
    spool = tempfile.SpooledTemporaryFile(max_size=ZIP_SPOOL_BYTES)  # noqa: SIM115 - send_file closes it
    count = 0
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        rows = db.session.scalars(stmt.options(undefer(Receipt.pdf)).limit(ZIP_LIMIT).execution_options(yield_per=50))
        for receipt in rows:
            archive.writestr(receipt.pdf_filename, current_pdf(receipt))
            count += 1
    record(
        db.session,
        current_actor(),
        "receipts.export",
        ("Receipt", None),
        after={"count": count, "ids": ids[:100], "filters": {k: v for k, v in filters.items() if v}},
    )
    db.session.commit()
    spool.seek(0)
    response = send_file(spool, mimetype="application/zip", as_attachment=True, download_name="receipts.zip")
    response.headers["Cache-Control"] = "private, no-store"
    return response
