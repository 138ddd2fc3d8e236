"""Fixtures for the projects tests: the cast (members of two organisations, a donor, staff),
signed-in clients, and a counter of SQL statements."""

from __future__ import annotations

# Import the blueprints in the app factory's order first (see tests/orgs/conftest.py).
import kyodo_fund.accounts  # noqa: F401  isort: skip
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.orgs.models import MemberRole, Membership
from tests.conftest import login
from tests.factories import make_org, make_user


@dataclass
class Cast:
    donor: Any
    owner_a: Any
    staff_a: Any
    member_b: Any
    reviewer: Any
    admin: Any
    org_a: Any
    org_b: Any


@pytest.fixture
def cast(db_session) -> Cast:
    owner_a = make_user(db_session, name="団体A 管理者")
    staff_a = make_user(db_session, name="団体A スタッフ")
    member_b = make_user(db_session, name="団体B 管理者")
    org_a = make_org(db_session, owner=owner_a)
    db_session.add(Membership(organisation_id=org_a.id, user_id=staff_a.id, role=MemberRole.STAFF))
    org_b = make_org(db_session, owner=member_b)
    db_session.flush()
    db_session.expire(org_a, ["memberships"])
    return Cast(
        donor=make_user(db_session, name="寄附者"),
        owner_a=owner_a,
        staff_a=staff_a,
        member_b=member_b,
        reviewer=make_user(db_session, role=UserRole.REVIEWER),
        admin=make_user(db_session, role=UserRole.ADMIN),
        org_a=org_a,
        org_b=org_b,
    )


@pytest.fixture
def sign_in(app, db_session):
    """``sign_in(user)`` → a test client logged in through the real login form (None: anonymous)."""

    def _sign_in(user):
        db_session.commit()  # the login request runs in its own request context
        client = app.test_client()
        if user is None:
            return client
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return _sign_in


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` counts every statement the engine sends."""
    from contextlib import contextmanager

    engine = app.extensions["kyodo_db_engine"]

    @contextmanager
    def _count():
        counter = StatementCounter()
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return _count
