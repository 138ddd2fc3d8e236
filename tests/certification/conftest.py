"""Fixtures for the certification tests: the cast (members of two organisations, a donor, staff), signed-in
clients, and a fixed day in Tokyo."""

from __future__ import annotations

# Import the blueprints in the app factory's order first (see tests/orgs/conftest.py).
import kyodo_fund.accounts  # noqa: F401  isort: skip
from dataclasses import dataclass
from typing import Any

import pytest

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

    def user(self, visitor: str) -> Any:
        return {
            "anon": None,
            "donor": self.donor,
            "memberA": self.owner_a,
            "staffA": self.staff_a,
            "memberB": self.member_b,
            "reviewer": self.reviewer,
            "admin": self.admin,
        }[visitor]


@pytest.fixture
def cast(db_session) -> Cast:
    owner_a = make_user(db_session, name="団体A 管理者", locale="ja")
    staff_a = make_user(db_session, name="団体A スタッフ", locale="en")
    member_b = make_user(db_session, name="団体B 管理者")
    org_a = make_org(db_session, owner=owner_a, slug="npo-a", name="NPO法人あさま")
    db_session.add(Membership(organisation_id=org_a.id, user_id=staff_a.id, role=MemberRole.STAFF))
    org_b = make_org(db_session, owner=member_b, slug="npo-b", name="NPO法人びわこ")
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
    """``sign_in(user)`` → a test client logged in through the real login form (``None``: anonymous)."""

    def _sign_in(user):
        db_session.commit()  # the login request runs in its own request context
        client = app.test_client()
        if user is not None:
            response = login(client, user.email)
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return _sign_in


@pytest.fixture
def june_2026(time_machine):
    """2026-06-10 09:00 in Tokyo."""
    time_machine.move_to("2026-06-10 09:00 +09:00", tick=False)
    return time_machine


@pytest.fixture
def give(db_session):
    """``give(project, day, amount, name, address, **fields)`` → a paid online Donation (``make_donation``)."""
    from tests.factories import make_donation

    def _give(project, day, amount, name="", address="", *, household="", anonymous=False, **fields):
        return make_donation(
            db_session,
            project,
            amount_yen=amount,
            received_on=day,
            donor_name=name,
            donor_address=address,
            donor_household=household,
            anonymous=anonymous,
            **fields,
        )

    return _give
