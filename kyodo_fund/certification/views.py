"""Members' pages: the organisation's legal and certification status (history, establishment timeline, next
deadline, 事業報告書, revenue, eligibility, PST from platform data) and the PST self-check from uploaded CSV files.
Only members of the organisation see them; everybody else gets 404."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from kyodo_fund.authz import found_or_404
from kyodo_fund.certification import bp
from kyodo_fund.certification.filings import fiscal_year_end_month, record_filing, record_revenue
from kyodo_fund.certification.forms import FilingForm, PstCheckForm, RevenueForm, StepForm, step_form_from_request
from kyodo_fund.certification.models import CertificationRecord
from kyodo_fund.certification.overview import ELIGIBILITY_REASONS, build_overview, fiscal_year_end_choices, pst_chart
from kyodo_fund.certification.platform_pst import pst_for_organisation
from kyodo_fund.certification.pst import PstSettings, check_pst
from kyodo_fund.certification.pst_files import PstFileError, read_donations, read_officers, read_revenue
from kyodo_fund.certification.pst_result import EXCLUSION_LABELS
from kyodo_fund.certification.services import (
    CertificationError,
    legal_actions,
    record_actions,
    settings_from,
    transition_legal,
    transition_record,
)
from kyodo_fund.extensions import db
from kyodo_fund.orgs.models import Organisation
from kyodo_fund.orgs.services import get_by_slug
from kyodo_fund.projects.models import today_in_tokyo
from kyodo_fund.web import current_actor
from kyodo_fund.workflow import InvalidTransition, NotPermitted, ReasonRequired


def member_org_or_404(slug: str) -> Organisation:
    org = found_or_404(get_by_slug(db.session, slug))
    return found_or_404(org, org.membership_of(current_user.id) is not None)


def form_error(form: Any, exc: CertificationError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def engine_error(form: Any, exc: Exception) -> None:
    """Turn the workflow engine's refusal into a form error (the page only offers allowed actions, so this is
    a stale page or a hand-made request)."""
    if isinstance(exc, ReasonRequired):
        form.note.errors = [*form.note.errors, _("理由を入力してください。")]
    else:
        form.form_errors.append(_("この操作は現在の状態では行えません。"))


def pst_of(org: Organisation, today: Any, overview: Any) -> tuple[Any, Any, str | None]:
    """The PST from platform data (renewal period when the organisation holds a 認定), its chart, or why not."""
    if not overview.is_npo:
        return None, None, None
    renewal = any(h.record.kind.value == "nintei" for h in overview.holdings)
    try:
        result = pst_for_organisation(db.session, org, today, renewal)
    except ValueError as exc:
        return None, None, str(exc)
    return result, pst_chart(result), None


def render_status(
    org: Organisation,
    *,
    step_form: StepForm | None = None,
    filing_form: FilingForm | None = None,
    revenue_form: RevenueForm | None = None,
    template: str = "certification/org_status.html",
    **extra: Any,
) -> str:
    """The status page; a form that failed is passed in bound, so its errors show next to its fields."""
    today = today_in_tokyo()
    settings = settings_from(current_app.config)
    overview = build_overview(db.session, org, today, settings)
    choices = fiscal_year_end_choices(org, today)
    filing_form = filing_form or FilingForm(formdata=None, prefix="filing")
    revenue_form = revenue_form or RevenueForm(formdata=None, prefix="revenue")
    filing_form.fiscal_year_end.choices = revenue_form.fiscal_year_end.choices = choices
    result, chart, pst_error = pst_of(org, today, overview)

    def step_form_for(prefix: str) -> StepForm:
        if step_form is not None and step_form._prefix == f"{prefix}-":
            return step_form
        return StepForm(formdata=None, prefix=prefix)

    return render_template(
        template,
        org=org,
        ov=overview,
        legal_steps=legal_actions(overview.legal, current_user),
        record_steps={r.id: record_actions(r, current_user) for r in overview.records},
        step_form_for=step_form_for,
        filing_form=filing_form,
        revenue_form=revenue_form,
        result=result,
        chart=chart,
        pst_error=pst_error,
        exclusion_labels=EXCLUSION_LABELS,
        eligibility_reasons=ELIGIBILITY_REASONS,
        platform_gifts=current_app.config.get("PROGRAMME_RECIPIENT_MODEL", "fund"),
        **extra,
    )


@bp.get("/orgs/<org_slug>/status")
@login_required
def org_status(org_slug: str) -> str:
    return render_status(member_org_or_404(org_slug))


@bp.post("/orgs/<org_slug>/status/step")
@login_required
def org_step(org_slug: str) -> Response | str:
    """What the organisation records itself: its 設立認証 application (or withdrawal) and a 認定 renewal filing."""
    org = member_org_or_404(org_slug)
    parsed = found_or_404(step_form_from_request(request.form))
    form, record_id = parsed
    if form.validate_on_submit():
        try:
            do_step(org, form, record_id, request.form.get("action", ""))
        except CertificationError as exc:
            db.session.rollback()
            form_error(form, exc)
        except (InvalidTransition, NotPermitted, ReasonRequired) as exc:
            db.session.rollback()
            engine_error(form, exc)
        else:
            db.session.commit()
            flash(_("記録しました。"), "success")
            return redirect(url_for("certification.org_status", org_slug=org.slug))
    return render_status(org, step_form=form)


def do_step(org: Organisation, form: StepForm, record_id: int | None, action: str) -> None:
    """Shared by the members' and the staff's page: a legal step, or a step of record ``record_id``."""
    common = {"effective_on": form.effective_on.data, "today": today_in_tokyo(), "note": form.note.data}
    if record_id is None:
        transition_legal(
            db.session,
            current_actor(),
            org,
            action,
            notice_number=form.notice_number.data,
            document_ref=form.document_ref.data,
            **common,
        )
        return
    record = db.session.get(CertificationRecord, record_id)
    found_or_404(record, record is not None and record.organisation_id == org.id)
    transition_record(
        db.session,
        current_actor(),
        record,
        action,
        notice_number=form.notice_number.data,
        settings=settings_from(current_app.config),
        **common,
    )


@bp.post("/orgs/<org_slug>/status/filings")
@login_required
def record_filing_view(org_slug: str) -> Response | str:
    org = member_org_or_404(org_slug)
    form = FilingForm(prefix="filing")
    form.fiscal_year_end.choices = fiscal_year_end_choices(org, today_in_tokyo())
    if form.validate_on_submit():
        try:
            record_filing(
                db.session,
                current_actor(),
                org,
                fiscal_year_end=_iso(form.fiscal_year_end.data),
                filed_on=form.filed_on.data,
                today=today_in_tokyo(),
            )
        except CertificationError as exc:
            db.session.rollback()
            form_error(form, exc)
        else:
            db.session.commit()
            flash(_("事業報告書等の提出を記録しました。"), "success")
            return redirect(url_for("certification.org_status", org_slug=org.slug, _anchor="filings"))
    return render_status(org, filing_form=form)


@bp.post("/orgs/<org_slug>/status/revenue")
@login_required
def record_revenue_view(org_slug: str) -> Response | str:
    org = member_org_or_404(org_slug)
    form = RevenueForm(prefix="revenue")
    form.fiscal_year_end.choices = fiscal_year_end_choices(org, today_in_tokyo())
    if form.validate_on_submit():
        try:
            record_revenue(
                db.session,
                current_actor(),
                org,
                fiscal_year_end=_iso(form.fiscal_year_end.data),
                total_revenue_yen=form.total_revenue_yen.data,
                excluded_revenue_yen=form.excluded_revenue_yen.data,
                subsidy_yen=form.subsidy_yen.data,
            )
        except CertificationError as exc:
            db.session.rollback()
            form_error(form, exc)
        else:
            db.session.commit()
            flash(_("収入の金額を保存しました。"), "success")
            return redirect(url_for("certification.org_status", org_slug=org.slug, _anchor="revenue"))
    return render_status(org, revenue_form=form)


def _iso(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@bp.route("/orgs/<org_slug>/pst-check", methods=["GET", "POST"])
@login_required
def pst_check(org_slug: str) -> str:
    """Self-check: the same PST over the organisation's own CSV exports (nothing is stored)."""
    org = member_org_or_404(org_slug)
    form = PstCheckForm()
    if request.method == "GET":
        form.fiscal_year_end_month.data = str(fiscal_year_end_month(org))
        form.as_of.data = today_in_tokyo()
    result = chart = None
    file_errors: list[str] = []
    if form.validate_on_submit():
        inputs: dict[str, Any] = {}
        readers = {"donations": read_donations, "officers": read_officers, "revenue": read_revenue}
        names = {"donations": "D.csv", "officers": "O.csv", "revenue": "R.csv"}
        for key, reader in readers.items():
            upload = getattr(form, key).data
            if not upload:
                continue
            try:
                inputs[key] = reader(upload.read(), filename=names[key])
            except PstFileError as exc:
                file_errors.extend(exc.lines())
        if not file_errors:
            try:
                result = check_pst(
                    inputs["donations"],
                    officers=inputs["officers"],
                    fy_end_month=int(form.fiscal_year_end_month.data),
                    as_of=form.as_of.data,
                    renewal=form.renewal.data,
                    revenue=inputs.get("revenue"),
                    established_on=form.established_on.data,
                    settings=PstSettings.from_config(current_app.config),
                )
            except ValueError as exc:
                file_errors.append(str(exc))
            else:
                chart = pst_chart(result)
    return render_template(
        "certification/pst_check.html",
        org=org,
        form=form,
        result=result,
        chart=chart,
        file_errors=file_errors,
        exclusion_labels=EXCLUSION_LABELS,
    )
