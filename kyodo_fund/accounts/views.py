from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_remembered, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from kyodo_fund.accounts import bp
from kyodo_fund.accounts import services as accounts
from kyodo_fund.accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    LoginForm,
    ProfileForm,
    ResetPasswordForm,
    SignupForm,
)
from kyodo_fund.accounts.models import TokenPurpose, User
from kyodo_fund.extensions import db, limiter
from kyodo_fund.web import current_actor

# --- throttling --------------------------------------------------------------------------------


def _limits_off() -> bool:
    # The limiter singleton's own switch belongs to whichever app called init_app last; reading
    # this app's setting keeps several apps in one process (tests, tools) from leaking into each other.
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _submitted_account() -> str:
    return "account:" + accounts.email_fingerprint(request.form.get("email", ""))


def _signed_in_account() -> str:
    return f"user:{current_user.id}"


def _mail_recipient() -> str:
    address = request.form.get("email") or (current_user.email if current_user.is_authenticated else "")
    return "mail:" + accounts.email_fingerprint(address)


#: Sign-up, reset and confirmation mails to one address, whoever asks and from wherever: the forms
#: must not become a way to flood somebody's inbox.
_mail_per_address = limiter.shared_limit(
    _setting("MAIL_LIMIT_PER_ADDRESS"),
    scope="mail-per-address",
    key_func=_mail_recipient,
    methods=["POST"],
    exempt_when=_limits_off,
)


# --- helpers -----------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str | None:
    """Same-site relative paths only; everything else (``//host``, ``https://``, ``/\\host``) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target


def _landing_page() -> str:
    endpoint = "donations.dashboard" if "donations.dashboard" in current_app.view_functions else "accounts.profile"
    return url_for(endpoint)


def _start_session(user: User, *, remember: bool) -> None:
    # A fresh session on every sign-in: nothing an attacker planted before (session fixation,
    # a pre-login CSRF token) survives it.
    session.clear()
    login_user(user, remember=remember)


def _token_error(exc: accounts.TokenError, purpose: TokenPurpose) -> tuple[str, int]:
    db.session.rollback()
    if isinstance(exc, accounts.TokenExpired):
        reason = "expired"
    elif isinstance(exc, accounts.TokenUsed):
        reason = "used"
    else:
        reason = "invalid"
    return render_template("accounts/token_error.html", reason=reason, purpose=purpose.value), 400


@bp.after_request
def _not_cached(response: Response) -> Response:
    # Profile data, reset tokens in URLs: nothing here belongs in a shared computer's cache.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- sign-up and confirmation ------------------------------------------------------------------


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_setting("SIGNUP_LIMIT_PER_IP"), methods=["POST"], exempt_when=_limits_off)
@_mail_per_address
def signup() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    form = SignupForm()
    if form.validate_on_submit():
        accounts.sign_up(
            db.session,
            current_actor(),
            email=form.email.data,
            password=form.password.data,
            name=form.name.data or "",
            locale=str(get_locale()),
        )
        db.session.commit()
        # Word for word the same whether the address was new or already registered.
        flash(
            _(
                "ご入力のメールアドレスにご案内のメールを送信しました。"
                "メールに記載された手順に沿って登録を完了してください。"
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/signup.html", form=form)


@bp.get("/confirm/<token>")
def confirm(token: str) -> Response | tuple[str, int]:
    try:
        user = accounts.confirm_email(db.session, current_actor(), token)
        # Gifts made as a guest with this address now belong to the account (same transaction).
        # Imported here: donations builds on accounts, not the other way round.
        from kyodo_fund.donations.services import claim_guest_donations

        claim_guest_donations(db.session, user)
    except accounts.AlreadyConfirmed:
        flash(_("このメールアドレスは確認済みです。"), "info")
    except accounts.TokenError as exc:
        return _token_error(exc, TokenPurpose.CONFIRM_EMAIL)
    else:
        db.session.commit()
        flash(_("メールアドレスを確認しました。"), "success")
    return redirect(url_for("accounts.profile" if current_user.is_authenticated else "accounts.login"))


@bp.post("/confirmation/resend")
@login_required
@_mail_per_address
def resend_confirmation() -> Response:
    user = current_user._get_current_object()
    if user.is_confirmed:
        flash(_("メールアドレスは確認済みです。"), "info")
    else:
        accounts.send_confirmation(db.session, user)
        db.session.commit()
        flash(_("確認メールを再送しました。メールに記載されたリンクを開いてください。"), "info")
    return redirect(url_for("accounts.profile"))


# --- login and logout --------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_setting("LOGIN_LIMIT_PER_IP"), methods=["POST"], exempt_when=_limits_off)
@limiter.limit(
    _setting("LOGIN_LIMIT_PER_ACCOUNT"), key_func=_submitted_account, methods=["POST"], exempt_when=_limits_off
)
def login() -> Response | str:
    target = _safe_next(request.args.get("next"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target or _landing_page())
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(db.session, current_actor(), form.email.data, form.password.data)
        except accounts.AccountDisabled:
            form.form_errors.append(_("このアカウントは利用が停止されています。お問い合わせ窓口までご連絡ください。"))
        except accounts.LoginFailed:
            form.form_errors.append(_("メールアドレスまたはパスワードが正しくありません。"))
        else:
            db.session.commit()
            _start_session(user, remember=form.remember.data)
            flash(_("ログインしました。"), "success")
            if not user.is_confirmed:
                flash(
                    _(
                        "メールアドレスの確認が済んでいません。お送りしたメールのリンクを開いてください。"
                        "届いていない場合はプロフィール画面から再送できます。"
                    ),
                    "warning",
                )
            return redirect(target or _landing_page())
        db.session.commit()  # keep the login_failed audit row
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        # Session cookies are self-contained; only a new version makes a copied one worthless.
        accounts.end_all_sessions(current_user._get_current_object())
        db.session.commit()
    session.clear()
    logout_user()  # after clear(): it leaves the flag that deletes the remember cookie
    flash(_("ログアウトしました。"), "info")
    return redirect(url_for("main.home"))


# --- passwords ---------------------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_setting("FORGOT_LIMIT_PER_IP"), methods=["POST"], exempt_when=_limits_off)
@_mail_per_address
def forgot() -> Response | str:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        accounts.request_password_reset(db.session, current_actor(), form.email.data)
        db.session.commit()
        flash(
            _(
                "ご入力のメールアドレスが登録されている場合は、パスワード再設定のご案内を送信しました。"
                "メールに記載されたリンクから手続きを進めてください。"
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Response | str | tuple[str, int]:
    form = ResetPasswordForm()
    try:
        if form.validate_on_submit():
            user = accounts.reset_password(db.session, current_actor(), token, form.password.data)
            db.session.commit()
            _start_session(user, remember=False)
            flash(_("パスワードを再設定しました。ほかの端末からはログアウトしています。"), "success")
            return redirect(url_for("accounts.profile"))
        accounts.check_token(db.session, token, TokenPurpose.RESET_PASSWORD)
    except accounts.TokenError as exc:
        return _token_error(exc, TokenPurpose.RESET_PASSWORD)
    return render_template("accounts/reset.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
@limiter.limit(
    _setting("LOGIN_LIMIT_PER_ACCOUNT"), key_func=_signed_in_account, methods=["POST"], exempt_when=_limits_off
)
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        remembered = login_remembered()
        try:
            accounts.change_password(db.session, current_actor(), user, form.current_password.data, form.password.data)
        except accounts.WrongPassword:
            db.session.commit()  # keep the audit row
            form.current_password.errors.append(_("現在のパスワードが正しくありません。"))
        else:
            db.session.commit()
            # The new session version killed this session too; sign in again under it.
            login_user(user, remember=remembered)
            flash(_("パスワードを変更しました。ほかの端末からはログアウトしています。"), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_password.html", form=form)


# --- profile -----------------------------------------------------------------------------------


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> Response | str:
    user = current_user._get_current_object()
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        fields = {name: form[name].data or "" for name in accounts.PROFILE_FIELDS}
        accounts.update_profile(db.session, current_actor(), user, **fields)
        db.session.commit()
        session["lang"] = user.locale  # the session's language wins over the profile's; align them
        flash(_("プロフィールを保存しました。"), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, user=user)
