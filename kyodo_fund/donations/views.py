"""Giving (form → Stripe Checkout → thank-you page), the donor's own dashboard, and the
administrators' refund page. The webhook is in ``webhook.py``."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from kyodo_fund.authz import admin_required, found_or_404
from kyodo_fund.donations import bp
from kyodo_fund.donations import services as donations
from kyodo_fund.donations.checkout import AmountError, CheckoutUnavailable, Gift, start_checkout
from kyodo_fund.donations.forms import ChangeAmountForm, GiveForm, RefundForm
from kyodo_fund.donations.fulfilment import fulfil_checkout
from kyodo_fund.donations.models import DonationStatus, ReceiptPreference
from kyodo_fund.donations.refunds import RefundRefused, refund_donation
from kyodo_fund.donations.subscriptions import RecurringError, cancel_recurring, change_recurring_amount
from kyodo_fund.extensions import db, limiter
from kyodo_fund.payments.stripe_gateway import GatewayError, get_gateway
from kyodo_fund.projects.models import ProjectStatus, today_in_tokyo
from kyodo_fund.projects.services import get_by_slug
from kyodo_fund.web import current_actor, paginate

log = logging.getLogger(__name__)


# --- throttling (card testing, payments.md CT2) -------------------------------------------------


def _limits_off() -> bool:
    # The limiter singleton's switch belongs to whichever app called init_app last (see accounts.views).
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _browser_session() -> str:
    # The CSRF token lives in the session cookie for as long as the browser keeps it.
    token = session.get("csrf_token")
    return "session:" + _digest(token) if token else "ip:" + (request.remote_addr or "")


def _donor_email() -> str:
    return "email:" + _digest(request.form.get("email", "").strip().lower())


def _limit(setting: str, key_func: Callable[[], str] | None = None) -> Callable:
    kwargs = {"key_func": key_func} if key_func else {}
    return limiter.limit(_setting(setting), methods=["POST"], exempt_when=_limits_off, **kwargs)


@bp.after_request
def _not_cached(response: Response) -> Response:
    # Donor details, amounts and receipts preferences: nothing here belongs in a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- giving ------------------------------------------------------------------------------------


def _open_project(slug: str):
    project = get_by_slug(db.session, slug)
    if project is None or project.status != ProjectStatus.PUBLISHED or project.days_left(today_in_tokyo()) is None:
        abort(404)
    return project


def _prefill(form: GiveForm) -> None:
    user = current_user
    form.name.data, form.name_kana.data = user.name, user.name_kana
    form.postal_code.data, form.address.data = user.postal_code, user.address
    form.email.data, form.phone.data = user.email, user.phone


@bp.route("/projects/<slug>/donate", methods=["GET", "POST"])
@_limit("DONATION_CHECKOUT_LIMIT_PER_IP")
@_limit("DONATION_CHECKOUT_LIMIT_PER_SESSION", _browser_session)
@_limit("DONATION_CHECKOUT_LIMIT_PER_EMAIL", _donor_email)
def new(slug: str) -> Response | str:
    project = _open_project(slug)
    form = GiveForm()
    if request.method == "GET" and current_user.is_authenticated:
        _prefill(form)
    if form.is_submitted() and form.website.data:
        # A bot filled the honeypot: look successful, charge nothing, tell it nothing.
        log.warning("donation honeypot filled from %s", request.remote_addr)
        return render_template("donations/received.html", project=project)
    if form.validate_on_submit():
        gift = Gift(
            amount_yen=form.amount_yen,
            monthly=form.monthly,
            name=form.name.data,
            kana=form.name_kana.data,
            postal_code=form.postal_code.data,
            address=form.address.data,
            email=form.email.data,
            phone=form.phone.data or "",
            receipt_preference=ReceiptPreference(form.receipt_preference.data)
            if form.receipt_preference.data
            else None,
            public_name_opt_in=form.public_name.data,
            message=form.message.data or "",
            locale=str(get_locale()),
        )
        try:
            _donation, checkout_url = start_checkout(
                db.session,
                get_gateway(current_app),
                current_actor(),
                project,
                gift,
                success_url=lambda public_id: (
                    url_for("donations.thanks", public_id=public_id, _external=True)
                    + "?session_id={CHECKOUT_SESSION_ID}"
                ),
                cancel_url=url_for("projects.show", slug=project.slug, _external=True),
                config=current_app.config,
            )
        except AmountError as exc:
            db.session.rollback()
            form.custom_amount.errors = [exc.message]
        except CheckoutUnavailable as exc:
            db.session.rollback()
            log.warning("checkout for project %s failed: %s", project.id, exc)
            flash(
                _(
                    "決済サービスに接続できませんでした。お手数ですが、時間をおいてもう一度お試しください（課金はされていません）。"
                ),
                "error",
            )
        else:
            db.session.commit()
            # 303: the browser follows with a GET to Stripe's page (its origin is in the CSP's form-action).
            return redirect(checkout_url, code=303)
    unconfirmed = current_user.is_authenticated and not current_user.is_confirmed
    return render_template("donations/new.html", form=form, project=project, unconfirmed=unconfirmed)


@bp.get("/donations/<public_id>/thanks")
def thanks(public_id: str) -> str:
    donation = found_or_404(donations.online_donation(db.session, public_id))
    if donation.status == DonationStatus.PENDING and donation.stripe_checkout_session_id:
        try:
            # The stored session id, never the ?session_id= of the URL: Stripe says whether it is paid.
            fulfil_checkout(
                db.session,
                get_gateway(current_app),
                donation.stripe_checkout_session_id,
                source="success_page",
                config=current_app.config,
            )
            db.session.commit()
        except GatewayError as exc:
            db.session.rollback()
            log.warning("success page could not ask Stripe about %s: %s", public_id, exc)
    donation = donations.online_donation(db.session, public_id)
    return render_template("donations/thanks.html", donation=donation, project=donation.project)


# --- the donor's dashboard ---------------------------------------------------------------------


@bp.get("/me/donations")
@login_required
def dashboard() -> str:
    user = current_user._get_current_object()
    page = paginate(db.session, donations.history_query(user))
    return render_template(
        "donations/dashboard.html",
        page=page,
        year=donations.year_total(db.session, user),
        recurring=donations.recurring_of(db.session, user),
        change_form=ChangeAmountForm(),
    )


@bp.get("/me/donations/<public_id>")
@login_required
def show(public_id: str) -> str:
    donation = found_or_404(donations.own_donation(db.session, current_user, public_id))
    return render_template("donations/show.html", donation=donation)


# Named apart from the service it calls; the endpoint keeps the public name.
@bp.post("/me/donations/recurring/<int:recurring_id>/cancel", endpoint="cancel_recurring")
@login_required
def cancel_recurring_view(recurring_id: int) -> Response:
    recurring = found_or_404(donations.own_recurring(db.session, current_user, recurring_id))
    try:
        cancel_recurring(db.session, get_gateway(current_app), current_actor(), recurring)
    except GatewayError as exc:
        db.session.rollback()
        log.warning("cancel of recurring %s failed: %s", recurring_id, exc)
        flash(_("停止の手続きができませんでした。時間をおいてもう一度お試しください。"), "error")
    else:
        db.session.commit()
        flash(_("毎月の寄附を停止しました。次回以降の引き落としはありません。"), "success")
    return redirect(url_for("donations.dashboard"))


@bp.post("/me/donations/recurring/<int:recurring_id>/amount")
@login_required
def change_recurring(recurring_id: int) -> Response | str:
    recurring = found_or_404(donations.own_recurring(db.session, current_user, recurring_id))
    form = ChangeAmountForm()
    if not form.validate_on_submit():
        for error in form.amount.errors or [_("入力内容を確認してください。")]:
            flash(str(error), "error")
        return redirect(url_for("donations.dashboard"))
    try:
        change_recurring_amount(
            db.session, get_gateway(current_app), current_actor(), recurring, form.amount_yen, current_app.config
        )
    except (RecurringError, AmountError) as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    except GatewayError as exc:
        db.session.rollback()
        log.warning("amount change of recurring %s failed: %s", recurring_id, exc)
        flash(_("金額を変更できませんでした。時間をおいてもう一度お試しください。"), "error")
    else:
        db.session.commit()
        flash(
            _("毎月の寄附額を%(amount)s円に変更しました（次回の引き落としから）。", amount=f"{form.amount_yen:,}"),
            "success",
        )
    return redirect(url_for("donations.dashboard"))


# --- administrators ----------------------------------------------------------------------------


@bp.route("/admin/donations/<public_id>/refund", methods=["GET", "POST"])
@admin_required
def admin_refund(public_id: str) -> Response | str:
    donation = found_or_404(donations.online_donation(db.session, public_id))
    form = RefundForm()
    if request.method == "GET":
        form.amount.data = str(donation.refundable_yen)
        form.request_key.data = str(uuid.uuid4())
    if form.validate_on_submit():
        try:
            refund_donation(
                db.session,
                get_gateway(current_app),
                current_actor(),
                donation,
                amount_text=form.amount.data,
                reason=form.reason.data,
                request_key=form.request_key.data,
                config=current_app.config,
            )
        except RefundRefused as exc:
            db.session.rollback()
            form.amount.errors = [*form.amount.errors, exc.message]
        except GatewayError as exc:
            db.session.rollback()
            log.warning("refund of %s failed: %s", public_id, exc)
            form.amount.errors = [*form.amount.errors, _("Stripe で返金できませんでした: %(error)s", error=exc.message)]
        else:
            db.session.commit()
            flash(_("返金しました。"), "success")
            return redirect(url_for("donations.admin_refund", public_id=public_id))
        donation = donations.online_donation(db.session, public_id)
    return render_template("donations/admin_refund.html", donation=donation, form=form)
