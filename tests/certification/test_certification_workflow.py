"""Both certification tables, exhaustively: every legal row with every persona, every illegal (state, action) pair."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from kyodo_fund.audit import SYSTEM, Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.certification.models import (
    CertificationRecord,
    LegalState,
    LegalStatus,
    RecordKind,
    RecordStatus,
)
from kyodo_fund.certification.workflow import LEGAL_WORKFLOW, RECORD_WORKFLOW, roles_of
from kyodo_fund.notifications.models import OutboxMessage
from kyodo_fund.workflow import InvalidTransition, NotPermitted, ReasonRequired, apply_transition, transition_pairs

PERSONAS = ("owner", "staff", "admin", "reviewer", "donor", "system")
WORKFLOWS = {"legal": LEGAL_WORKFLOW, "record": RECORD_WORKFLOW}


def _cases(kind: str, legal: bool):
    workflow = WORKFLOWS[kind]
    for state, action in transition_pairs(workflow):
        if (workflow.find(state, action) is not None) == legal:
            yield pytest.param(kind, state, action, id=f"{kind}-{state.value}-{action}")


LEGAL_CASES = [*_cases("legal", True), *_cases("record", True)]
ILLEGAL_CASES = [*_cases("legal", False), *_cases("record", False)]


def actor_for(cast, persona: str) -> Actor:
    if persona == "system":
        return SYSTEM
    user = {
        "owner": cast.owner_a,
        "staff": cast.staff_a,
        "admin": cast.admin,
        "reviewer": cast.reviewer,
        "donor": cast.donor,
    }[persona]
    return Actor(user=user, ip="127.0.0.1")


def make_obj(db_session, cast, kind: str, state):
    if kind == "legal":
        obj = LegalStatus(organisation_id=cast.org_a.id, organisation=cast.org_a, status=state)
    else:
        obj = CertificationRecord(
            organisation_id=cast.org_a.id,
            organisation=cast.org_a,
            kind=RecordKind.NINTEI,
            notice_number="長野県指令8県協第1号",
            granted_on=date(2021, 7, 1),
            valid_until=date(2026, 6, 30),
            status=state,
        )
    db_session.add(obj)
    db_session.flush()
    return obj


def test_tables_cover_every_state():
    assert LEGAL_WORKFLOW.states() == set(LegalState)
    assert RECORD_WORKFLOW.states() == set(RecordStatus)
    legal = {(t.source.value, t.action): t.target.value for t in LEGAL_WORKFLOW.transitions}
    assert legal[("nin_i", "apply")] == "applied"
    assert legal[("applied", "authorise")] == "authorised"
    assert legal[("authorised", "register")] == "registered"
    assert legal[("registered", "revoke_authorisation")] == "authorisation_revoked"
    assert {t.action for t in LEGAL_WORKFLOW.transitions if "owner" in t.who} == {"apply", "withdraw"}
    assert {t.action for t in RECORD_WORKFLOW.transitions if "owner" in t.who} == {"file_renewal"}
    assert {t.action for t in RECORD_WORKFLOW.transitions if "system" in t.who} == {"lapse"}
    assert not any("reviewer" in t.who for t in (*LEGAL_WORKFLOW.transitions, *RECORD_WORKFLOW.transitions))


@pytest.mark.parametrize(("kind", "state", "action"), LEGAL_CASES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_every_row_for_every_persona(app_ctx, db_session, cast, kind, state, action, persona):
    workflow = WORKFLOWS[kind]
    transition = workflow.find(state, action)
    obj = make_obj(db_session, cast, kind, state)
    actor = actor_for(cast, persona)
    allowed = bool(roles_of(actor.user, obj) & transition.who)
    if not allowed:
        with pytest.raises(NotPermitted):
            apply_transition(db_session, workflow, obj, action, actor, reason="理由")
        assert obj.status == state
        return
    if transition.needs_reason:
        with pytest.raises(ReasonRequired):
            apply_transition(db_session, workflow, obj, action, actor)
        assert obj.status == state
    apply_transition(db_session, workflow, obj, action, actor, reason="通知による")
    assert obj.status == transition.target
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == f"{workflow.name}.{action}"))
    assert entry.before == {"status": state.value} and entry.after == {"status": transition.target.value}
    mails = db_session.scalars(select(OutboxMessage).where(OutboxMessage.template == transition.notify)).all()
    if transition.notify:
        # Both members of A are told, each in their own language.
        assert sorted(m.to_address for m in mails) == sorted([cast.owner_a.email, cast.staff_a.email])
    else:
        assert mails == []


@pytest.mark.parametrize(("kind", "state", "action"), ILLEGAL_CASES)
def test_every_illegal_pair_is_refused_even_for_admins(app_ctx, db_session, cast, kind, state, action):
    obj = make_obj(db_session, cast, kind, state)
    with pytest.raises(InvalidTransition):
        apply_transition(db_session, WORKFLOWS[kind], obj, action, actor_for(cast, "admin"), reason="理由")
    assert obj.status == state


def test_a_member_who_is_also_staff_keeps_only_the_member_role(db_session, cast):
    from kyodo_fund.accounts.models import UserRole

    cast.owner_a.role = UserRole.ADMIN
    obj = make_obj(db_session, cast, "legal", LegalState.APPLIED)
    assert roles_of(cast.owner_a, obj) == {"owner"}
    with pytest.raises(NotPermitted):
        apply_transition(db_session, LEGAL_WORKFLOW, obj, "authorise", Actor(user=cast.owner_a))
