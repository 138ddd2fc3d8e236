from __future__ import annotations

import dataclasses
import hashlib
import re
import secrets
import unicodedata
from datetime import timedelta
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.accounts.models import AccountToken, TokenPurpose, User, UserRole
from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.db import utcnow
from kyodo_fund.extensions import db
from kyodo_fund.notifications.services import queue_email

#: OWASP's Argon2id setting: 19 MiB, 2 iterations, parallelism 1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
#: Verified against when the e-mail is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash("timing-equaliser")

#: Profile fields a user may edit; only their names (never values) go to the audit log, because
#: audit rows are immutable and personal data must be anonymisable after the retention period.
PROFILE_FIELDS = ("name", "name_kana", "postal_code", "address", "phone", "locale")


class AccountError(Exception):
    """A domain error the view turns into a form error or a message."""


class LoginFailed(AccountError):
    """Unknown e-mail or wrong password; deliberately indistinguishable."""


class AccountDisabled(AccountError):
    """Correct password, but an administrator has disabled the account."""


class WrongPassword(AccountError):
    pass


class TokenError(AccountError):
    pass


class TokenInvalid(TokenError):
    pass


class TokenExpired(TokenError):
    pass


class TokenUsed(TokenError):
    def __init__(self, user_id: int) -> None:
        super().__init__(user_id)
        self.user_id = user_id


class AlreadyConfirmed(AccountError):
    """A confirmation link opened again after it did its job: not the person's problem."""


# --- passwords, e-mail addresses, sessions -------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_fingerprint(email: str) -> str:
    """SHA-256 of the normalised address: lets logs and rate-limit keys correlate attempts
    without storing what was typed (people do type their password into the e-mail box)."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def load_user_for_session(session_id: str) -> User | None:
    """Flask-Login loader: ``"<id>:<session_version>"``; an old version means a dead session."""
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.scalar(select(User).where(User.id == int(user_id)))
    if user is None or user.session_version != int(version) or not user.is_active_account:
        return None
    return user


def end_all_sessions(user: User) -> None:
    """Every session and remember cookie carries the version; bumping it kills them all."""
    user.session_version += 1


# --- links and single-use tokens ---------------------------------------------------------------


def public_url(endpoint: str, **values: object) -> str:
    """Absolute URL on ``PUBLIC_BASE_URL``. Never derived from the request's Host header, which
    an attacker controls (a reset link pointing at their host would hand them the token)."""
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(session: Session, user: User, purpose: TokenPurpose, lifetime: timedelta) -> str:
    """Store a new token's hash and return the raw token (it exists only in the e-mail)."""
    raw = secrets.token_urlsafe(32)
    session.add(
        AccountToken(user_id=user.id, purpose=purpose, token_hash=_token_hash(raw), expires_at=utcnow() + lifetime)
    )
    session.flush()
    return raw


def _diagnose(session: Session, raw: str, purpose: TokenPurpose) -> TokenError:
    row = session.scalar(
        select(AccountToken).where(AccountToken.token_hash == _token_hash(raw), AccountToken.purpose == purpose)
    )
    if row is None:
        return TokenInvalid()
    if row.used_at is not None:
        return TokenUsed(row.user_id)
    return TokenExpired()


def _usable(raw: str, purpose: TokenPurpose) -> list:
    return [
        AccountToken.token_hash == _token_hash(raw),
        AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None),
        AccountToken.expires_at > utcnow(),
    ]


def check_token(session: Session, raw: str, purpose: TokenPurpose) -> User:
    """The token's user if it could be consumed now; raises a ``TokenError`` otherwise."""
    user_id = session.scalar(select(AccountToken.user_id).where(*_usable(raw, purpose)))
    if user_id is None:
        raise _diagnose(session, raw, purpose)
    return session.get_one(User, user_id)


def consume_token(session: Session, raw: str, purpose: TokenPurpose) -> User:
    """Mark the token used and return its user. The conditional UPDATE is the lock: of two
    concurrent requests with the same token exactly one sees rowcount 1."""
    result = session.execute(
        update(AccountToken)
        .where(*_usable(raw, purpose))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _diagnose(session, raw, purpose)
    user_id = session.scalar(select(AccountToken.user_id).where(AccountToken.token_hash == _token_hash(raw)))
    return session.get_one(User, user_id)


def _retire_tokens(session: Session, user: User, purpose: TokenPurpose) -> None:
    session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


# --- sign-up and confirmation ------------------------------------------------------------------


def sign_up(
    session: Session, actor: Actor, *, email: str, password: str, name: str = "", locale: str = "ja"
) -> User | None:
    """Create an unconfirmed donor and mail a confirmation link, or — when the address is taken —
    mail its owner instead. Returns None in that case; callers must answer exactly as on success."""
    address = normalise_email(email)
    # Hash on both paths so the response time does not reveal whether the address exists.
    password_hash = hash_password(password)
    existing = find_user_by_email(session, address)
    if existing is None:
        user = User(email=address, password_hash=password_hash, role=UserRole.DONOR, name=name.strip(), locale=locale)
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
        except IntegrityError:  # a concurrent sign-up with the same address won the race
            existing = find_user_by_email(session, address)
            if existing is None:
                raise
        else:
            record(session, dataclasses.replace(actor, user=user), "accounts.signed_up", user)
            send_confirmation(session, user)
            return user
    queue_email(
        session,
        "signup_existing",
        to=existing.email,
        locale=existing.locale,
        context={
            "user": existing,
            "login_url": public_url("accounts.login"),
            "forgot_url": public_url("accounts.forgot"),
        },
    )
    return None


def send_confirmation(session: Session, user: User) -> None:
    hours = current_app.config["CONFIRM_TOKEN_HOURS"]
    raw = issue_token(session, user, TokenPurpose.CONFIRM_EMAIL, timedelta(hours=hours))
    queue_email(
        session,
        "confirm_email",
        to=user.email,
        locale=user.locale,
        context={"user": user, "link": public_url("accounts.confirm", token=raw), "hours": hours},
    )


def confirm_email(session: Session, actor: Actor, raw_token: str) -> User:
    """Confirm the address the token was sent to. Raises ``AlreadyConfirmed`` for a used link
    whose address is confirmed (mail scanners often open links before the person does)."""
    try:
        user = consume_token(session, raw_token, TokenPurpose.CONFIRM_EMAIL)
    except TokenUsed as exc:
        if session.get_one(User, exc.user_id).is_confirmed:
            raise AlreadyConfirmed() from exc
        raise
    if not user.is_confirmed:
        user.email_confirmed_at = utcnow()
        record(session, actor, "accounts.email_confirmed", user)
    return user


# --- login -------------------------------------------------------------------------------------


def authenticate(session: Session, actor: Actor, email: str, password: str) -> User:
    """Check the credentials, audit the attempt and stamp ``last_login_at``.

    Raises ``LoginFailed`` (unknown e-mail and wrong password alike) or ``AccountDisabled``.
    """
    user = find_user_by_email(session, email)
    if not verify_password(user, password):
        note = "wrong password" if user else f"unknown email sha256={email_fingerprint(email)}"
        record(session, actor, "accounts.login_failed", user or ("User", None), note=note)
        raise LoginFailed()
    assert user is not None
    if not user.is_active_account:
        record(session, actor, "accounts.login_failed", user, note="account disabled")
        raise AccountDisabled()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    record(session, dataclasses.replace(actor, user=user), "accounts.login_succeeded", user)
    return user


# --- passwords ---------------------------------------------------------------------------------


def _set_password(session: Session, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    end_all_sessions(user)
    # A reset link mailed before the change must not undo it.
    _retire_tokens(session, user, TokenPurpose.RESET_PASSWORD)
    queue_email(
        session,
        "password_changed",
        to=user.email,
        locale=user.locale,
        context={"user": user, "forgot_url": public_url("accounts.forgot")},
    )


def request_password_reset(session: Session, actor: Actor, email: str) -> None:
    """Mail a reset link if the address belongs to an active account; silently do nothing otherwise."""
    user = find_user_by_email(session, email)
    if user is None or not user.is_active_account:
        return
    minutes = current_app.config["RESET_TOKEN_MINUTES"]
    raw = issue_token(session, user, TokenPurpose.RESET_PASSWORD, timedelta(minutes=minutes))
    queue_email(
        session,
        "reset_password",
        to=user.email,
        locale=user.locale,
        context={"user": user, "link": public_url("accounts.reset", token=raw), "minutes": minutes},
    )
    record(session, actor, "accounts.password_reset_requested", user)


def reset_password(session: Session, actor: Actor, raw_token: str, new_password: str) -> User:
    user = consume_token(session, raw_token, TokenPurpose.RESET_PASSWORD)
    if not user.is_active_account:
        raise TokenInvalid()
    _set_password(session, user, new_password)
    if not user.is_confirmed:  # the link reached the mailbox, which is what confirmation proves
        user.email_confirmed_at = utcnow()
    record(session, dataclasses.replace(actor, user=user), "accounts.password_reset", user)
    return user


def change_password(session: Session, actor: Actor, user: User, current: str, new: str) -> None:
    if not verify_password(user, current):
        record(session, actor, "accounts.password_change_failed", user, note="wrong current password")
        raise WrongPassword()
    _set_password(session, user, new)
    record(session, actor, "accounts.password_changed", user)


# --- profile -----------------------------------------------------------------------------------

_HYPHENS = re.compile("[‐‑‒–—―−ー－﹣]")
KANA_PATTERN = re.compile(r"[ァ-ヺー・ ]*")
POSTAL_PATTERN = re.compile(r"(\d{3})-?(\d{4})")
PHONE_PATTERN = re.compile(r"\d+(-\d+)*")


def normalise_kana(value: str) -> str:
    """Half-width to full-width (NFKC), hiragana to katakana, one ASCII space between words."""
    text = unicodedata.normalize("NFKC", value)
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return " ".join(text.split())


def normalise_postal_code(value: str) -> str:
    text = _HYPHENS.sub("-", unicodedata.normalize("NFKC", value)).strip().removeprefix("〒").strip()
    match = POSTAL_PATTERN.fullmatch(text)
    return f"{match[1]}-{match[2]}" if match else text


def normalise_phone(value: str) -> str:
    return "-".join(_HYPHENS.sub("-", unicodedata.normalize("NFKC", value)).split())


def update_profile(session: Session, actor: Actor, user: User, **fields: str) -> list[str]:
    """Apply the given profile fields; returns the names of those that changed."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    changed = [name for name, value in fields.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, fields[name])
    if changed:
        session.flush()
        record(session, actor, "accounts.profile_updated", user, after={"fields": changed})
    return changed
