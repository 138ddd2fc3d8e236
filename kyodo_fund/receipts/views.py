"""Public verification (the QR code's target), the donor's own receipts, and the 寄附者名簿 download.

Access: verification is public but shows nothing personal; a donor sees only receipts issued to their account;
the register is for the organisation's members and staff. Anything else answers 404.
"""

from __future__ import annotations

from datetime import date

from flask import Response, abort, current_app, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from kyodo_fund.authz import found_or_404
from kyodo_fund.extensions import db, limiter
from kyodo_fund.receipts import bp, registers
from kyodo_fund.receipts.models import Receipt, ReceiptKind
from kyodo_fund.receipts.queries import receipts_of_user
from kyodo_fund.receipts.services import current_pdf, snapshot_of, today_in_tokyo, verification_status
from kyodo_fund.web import current_actor, paginate


def pdf_response(receipt: Receipt) -> Response:
    response = Response(current_pdf(receipt), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{receipt.pdf_filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/receipts/verify/<code>")
@limiter.limit(lambda: current_app.config["RECEIPTS_VERIFY_RATE_LIMIT"])
def verify(code: str) -> Response:
    receipt = found_or_404(
        db.session.scalar(select(Receipt).where(Receipt.verification_code == code)) if len(code) <= 64 else None
    )
    snapshot = snapshot_of(receipt)
    # Only what the document's holder already knows and nothing about the donor (privacy test 32).
    facts = {
        "number": receipt.display_number,
        "statement": receipt.kind == ReceiptKind.ANNUAL_STATEMENT,
        "tax_document": snapshot.is_tax_document,
        "issuer_name": snapshot.issuer.name,
        "issued_on": receipt.issued_on,
        "amount_yen": receipt.amount_yen,
        "period_year": receipt.period_year,
        "status": verification_status(db.session, receipt),
        "voided_on": receipt.voided_at,
        "successor": receipt.replaced_by.display_number if receipt.replaced_by else None,
        "reissue_of": receipt.reissue_of.display_number if receipt.reissue_of else None,
    }
    response = Response(render_template("receipts/verify.html", facts=facts))
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/me/receipts")
@login_required
def mine() -> str:
    page = paginate(db.session, receipts_of_user(current_user.id))
    return render_template("receipts/mine.html", page=page)


@bp.get("/me/receipts/<int:receipt_id>.pdf")
@login_required
def download(receipt_id: int) -> Response:
    receipt = db.session.get(Receipt, receipt_id)
    found_or_404(receipt, receipt is not None and receipt.user_id == current_user.id)
    return pdf_response(receipt)


@bp.get("/orgs/<org_slug>/donor-list.csv")
@login_required
def donor_list(org_slug: str) -> Response:
    from kyodo_fund.orgs.services import get_by_slug

    org = get_by_slug(db.session, org_slug)
    found_or_404(org, org is not None and (current_user.is_staff or org.membership_of(current_user.id) is not None))
    raw = request.args.get("fy", "")
    if raw:
        if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
            abort(400)
        fiscal_year = int(raw)
    else:
        fiscal_year = _current_fiscal_year(org.fiscal_year_end_month, today_in_tokyo())
    data = registers.donor_register_csv(db.session, org, fiscal_year)
    registers.record_export(db.session, current_actor(), org, fiscal_year, "web")
    db.session.commit()
    response = Response(data, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="donor-list-{org.slug}-FY{fiscal_year}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _current_fiscal_year(end_month: int | None, today: date) -> int:
    start, _end = registers.fiscal_year_bounds(end_month, today.year)
    return today.year if today >= start else today.year - 1
