"""Test data builders, one function per domain object. They flush, never commit."""

from __future__ import annotations

import itertools

from kyodo_fund.accounts.models import User, UserRole
from kyodo_fund.accounts.services import hash_password
from kyodo_fund.db import utcnow

PASSWORD = "correct horse battery"
_seq = itertools.count(1)
_HASH = hash_password(PASSWORD)  # hashing is deliberately slow; reuse one hash


def make_user(session, email: str | None = None, *, role: UserRole = UserRole.DONOR, confirmed: bool = True, **fields):
    n = next(_seq)
    user = User(
        email=email or f"user{n}@example.jp",
        password_hash=_HASH,
        role=role,
        email_confirmed_at=utcnow() if confirmed else None,
        name=fields.pop("name", f"利用者{n}"),
        **fields,
    )
    session.add(user)
    session.flush()
    return user
