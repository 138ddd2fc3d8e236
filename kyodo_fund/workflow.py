"""The one state-machine mechanism every workflow uses.

A workflow is a table of ``Transition`` rows: ``(state, action) → next state, who may do it,
the label the user sees``. ``apply_transition`` is the only function that changes a workflow
state: it checks the table, sets the state, writes an audit row and queues notifications.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session


class InvalidTransition(Exception):
    """The action is not allowed from the object's current state."""


class NotPermitted(Exception):
    """The table allows the action, but not for this actor."""


class ReasonRequired(Exception):
    """The transition needs a written reason (rejections, returns for more information)."""


@dataclass(frozen=True)
class Transition:
    source: enum.StrEnum
    action: str
    target: enum.StrEnum
    #: Roles (as returned by the workflow's ``roles_of``) that may take this action.
    who: frozenset[str]
    #: Button / history label, a lazy gettext string.
    label: Any
    needs_reason: bool = False
    #: Mail template under templates/emails/ sent to the workflow's recipients, if any.
    notify: str | None = None
    #: Bootstrap-like tone of the button: "primary", "danger" or "secondary".
    tone: str = "primary"


@dataclass
class Workflow:
    name: str
    transitions: tuple[Transition, ...]
    #: ``roles_of(actor_user, obj) -> set[str]``: the actor's roles relative to the object.
    #: ``actor_user`` is None only for ``audit.SYSTEM`` (jobs): return {"system"} where jobs may act.
    roles_of: Callable[[Any, Any], set[str]]
    #: ``recipients(session, obj) -> list[(email, locale)]`` for notifications.
    recipients: Callable[[Session, Any], list[tuple[str, str]]] = lambda _s, _o: []
    #: ``on_enter[state](session, obj, actor)`` for side data such as ``approved_at``.
    on_enter: dict[enum.StrEnum, Callable[[Session, Any, Any], None]] = field(default_factory=dict)
    state_attr: str = "status"

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for t in self.transitions:
            key = (t.source.value, t.action)
            if key in seen:
                raise ValueError(f"{self.name}: duplicate transition {key}")
            seen.add(key)

    def find(self, state: enum.StrEnum, action: str) -> Transition | None:
        for t in self.transitions:
            if t.source == state and t.action == action:
                return t
        return None

    def actions(self) -> set[str]:
        return {t.action for t in self.transitions}

    def states(self) -> set[enum.StrEnum]:
        return {t.source for t in self.transitions} | {t.target for t in self.transitions}


def available_transitions(workflow: Workflow, obj: Any, user: Any) -> list[Transition]:
    """The actions the user may take on ``obj`` now; pages render only these."""
    state = getattr(obj, workflow.state_attr)
    roles = workflow.roles_of(user, obj) if user is not None else set()
    return [t for t in workflow.transitions if t.source == state and roles & t.who]


def apply_transition(
    session: Session,
    workflow: Workflow,
    obj: Any,
    action: str,
    actor: Any,
    *,
    reason: str | None = None,
) -> Transition:
    """Move ``obj`` along ``workflow`` by ``action`` on behalf of ``actor`` (an ``audit.Actor``)."""
    from kyodo_fund.audit.services import record
    from kyodo_fund.notifications.services import queue_email

    state = getattr(obj, workflow.state_attr)
    transition = workflow.find(state, action)
    if transition is None:
        raise InvalidTransition(f"{workflow.name}: {action!r} is not allowed from {state.value!r}")
    # ``roles_of`` sees user None only for the scheduler's SYSTEM actor, never for an anonymous visitor.
    roles = workflow.roles_of(actor.user, obj) if actor.user is not None or actor.system else set()
    if not roles & transition.who:
        raise NotPermitted(f"{workflow.name}: {action!r} needs one of {sorted(transition.who)}")
    reason = (reason or "").strip() or None
    if transition.needs_reason and not reason:
        raise ReasonRequired(action)

    setattr(obj, workflow.state_attr, transition.target)
    if hook := workflow.on_enter.get(transition.target):
        hook(session, obj, actor)
    session.flush()
    record(
        session,
        actor,
        f"{workflow.name}.{action}",
        obj,
        before={workflow.state_attr: state.value},
        after={workflow.state_attr: transition.target.value},
        note=reason,
    )
    if transition.notify:
        for email, locale in workflow.recipients(session, obj):
            queue_email(
                session,
                transition.notify,
                to=email,
                locale=locale,
                context={"obj": obj, "transition": transition, "reason": reason},
                dedupe_key=None,
            )
    return transition


def transition_pairs(workflow: Workflow) -> Iterable[tuple[enum.StrEnum, str]]:
    """Every (state, action) pair, legal or not: what the exhaustive tests iterate over."""
    for state in sorted(workflow.states(), key=lambda s: s.value):
        for action in sorted(workflow.actions()):
            yield state, action
