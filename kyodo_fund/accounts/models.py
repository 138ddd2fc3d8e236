from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from kyodo_fund.db import Base, StrEnumType, TimestampMixin, utcnow


class UserRole(enum.StrEnum):
    """Platform-wide role. NPO membership is separate (``orgs.models.Membership``)."""

    DONOR = "donor"
    REVIEWER = "reviewer"  # screens applications; sees but never changes money or settings
    ADMIN = "admin"


class TokenPurpose(enum.StrEnum):
    CONFIRM_EMAIL = "confirm_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose name, not a password


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased; the unique index makes sign-up races safe.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(StrEnumType(UserRole), default=UserRole.DONOR)
    email_confirmed_at: Mapped[datetime | None]
    is_active_account: Mapped[bool] = mapped_column(default=True)
    #: Bumped on password change / disable so every older session and remember cookie dies.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    locale: Mapped[str] = mapped_column(String(5), default="ja")
    last_login_at: Mapped[datetime | None]

    # Profile: printed on receipts and used in donor registers.
    name: Mapped[str] = mapped_column(String(100), default="")
    name_kana: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(8), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.is_active_account

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_confirmed(self) -> bool:
        """Unconfirmed users may sign in and edit their profile; actions that send money or mail
        to others (donating, registering or joining an organisation) should require this."""
        return self.email_confirmed_at is not None

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN

    @property
    def is_reviewer(self) -> bool:
        return self.role == UserRole.REVIEWER

    @property
    def is_staff(self) -> bool:
        """Fund / prefecture staff: reviewers and administrators."""
        return self.role in (UserRole.ADMIN, UserRole.REVIEWER)

    @property
    def display_name(self) -> str:
        return self.name or self.email


class AccountToken(Base):
    """Single-use, time-limited token sent by e-mail. Only its SHA-256 is stored."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(StrEnumType(TokenPurpose))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
