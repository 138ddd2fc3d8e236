"""The generic engine, on a tiny two-step table (each domain tests its own table exhaustively)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.workflow import (
    InvalidTransition,
    NotPermitted,
    ReasonRequired,
    Transition,
    Workflow,
    apply_transition,
    available_transitions,
    transition_pairs,
)
from tests.factories import make_user


class S(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    REFUSED = "refused"


@dataclass
class Thing:
    id: int
    status: S
    owner_id: int
    done_hook_ran: bool = False


def _roles(user, thing):
    roles = set()
    if user is not None and user.id == thing.owner_id:
        roles.add("owner")
    if user is not None and user.is_admin:
        roles.add("admin")
    return roles


def _mark(_session, thing, _actor):
    thing.done_hook_ran = True


WF = Workflow(
    name="thing",
    transitions=(
        Transition(S.OPEN, "finish", S.DONE, frozenset({"owner"}), "finish", notify="org_test_notice"),
        Transition(S.OPEN, "refuse", S.REFUSED, frozenset({"admin"}), "refuse", needs_reason=True),
    ),
    roles_of=_roles,
    recipients=lambda _s, _t: [("owner@example.jp", "ja")],
    on_enter={S.DONE: _mark},
)


@pytest.fixture
def owner(db_session):
    return make_user(db_session)


def test_legal_transition_sets_state_audits_and_runs_hook(app, db_session, owner, tmp_path):
    thing = Thing(id=7, status=S.OPEN, owner_id=owner.id)
    # The notification template lives in the app's templates; render a throwaway one.
    (tmp_path / "emails" / "org_test_notice").mkdir(parents=True)
    for name, body in {"subject.txt": "件名 {{ obj.id }}", "body.txt": "本文 {{ transition.action }}"}.items():
        (tmp_path / "emails" / "org_test_notice" / name).write_text(body, encoding="utf-8")
    from jinja2 import ChoiceLoader, FileSystemLoader

    original = app.jinja_env.loader
    app.jinja_env.loader = ChoiceLoader([app.jinja_env.loader, FileSystemLoader(str(tmp_path))])
    try:
        with app.test_request_context():
            apply_transition(db_session, WF, thing, "finish", Actor(owner, "192.0.2.1"))
            db_session.commit()
    finally:
        app.jinja_env.loader = original
    assert thing.status is S.DONE
    assert thing.done_hook_ran
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "thing.finish")).one()
    assert (entry.before, entry.after) == ({"status": "open"}, {"status": "done"})
    assert entry.object_id == "7" and entry.ip == "192.0.2.1" and entry.actor_id == owner.id
    message = db_session.scalars(select(OutboxMessage)).one()
    assert message.subject == "件名 7" and message.to_address == "owner@example.jp"


def test_wrong_role_is_not_permitted(db_session, owner):
    thing = Thing(id=1, status=S.OPEN, owner_id=owner.id)
    with pytest.raises(NotPermitted):
        apply_transition(db_session, WF, thing, "refuse", Actor(owner))
    assert thing.status is S.OPEN


def test_illegal_pair_raises_and_changes_nothing(db_session, owner):
    thing = Thing(id=1, status=S.DONE, owner_id=owner.id)
    with pytest.raises(InvalidTransition):
        apply_transition(db_session, WF, thing, "finish", Actor(owner))
    assert thing.status is S.DONE
    assert db_session.scalars(select(AuditEntry)).first() is None


def test_reason_required(db_session):
    from kyodo_fund.accounts.models import UserRole

    admin = make_user(db_session, role=UserRole.ADMIN)
    thing = Thing(id=1, status=S.OPEN, owner_id=0)
    with pytest.raises(ReasonRequired):
        apply_transition(db_session, WF, thing, "refuse", Actor(admin), reason="   ")
    apply_transition(db_session, WF, thing, "refuse", Actor(admin), reason="書類不備")
    assert thing.status is S.REFUSED
    assert db_session.scalars(select(AuditEntry.note)).one() == "書類不備"


def test_available_transitions_are_filtered_by_role(db_session, owner):
    thing = Thing(id=1, status=S.OPEN, owner_id=owner.id)
    assert [t.action for t in available_transitions(WF, thing, owner)] == ["finish"]
    assert available_transitions(WF, thing, None) == []


def test_duplicate_rows_are_refused_and_pairs_cover_every_state():
    with pytest.raises(ValueError, match="duplicate"):
        Workflow("dup", (WF.transitions[0], WF.transitions[0]), roles_of=_roles)
    assert set(transition_pairs(WF)) == {(s, a) for s in S for a in ("finish", "refuse")}
