"""Creating and editing projects, their plan (targets, partners, budget), screening, phases,
and the donation counters the donations domain moves."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.orgs.models import Organisation, OrgStatus
from kyodo_fund.projects.models import (
    BudgetLine,
    OutcomeTarget,
    PartnerType,
    Project,
    ProjectPartner,
    ProjectPhase,
    ProjectPhaseChange,
    ProjectStatus,
    today_in_tokyo,
)
from kyodo_fund.projects.workflow import MEMBERS, WORKFLOW
from kyodo_fund.workflow import NotPermitted, Transition, apply_transition


class ProjectError(Exception):
    """A domain rule refused the change; ``field`` names the form field to attach it to, if any."""

    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


class NotEditable(ProjectError):
    def __init__(self) -> None:
        super().__init__(_l("審査中・公開後の事業は変更できません（下書きか追加情報の依頼中のみ変更できます）。"))


class Incomplete(ProjectError):
    """Submission refused; ``missing`` lists everything still to do."""

    def __init__(self, missing: list[Any]) -> None:
        super().__init__(_l("審査を申請する前に、次の点を確認してください。"))
        self.missing = missing


# --- slugs ---------------------------------------------------------------------------------

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,58}[a-z0-9])$")
#: Path segments under /projects/ that are pages, not projects.
RESERVED_SLUGS = frozenset({"review", "new", "mine", "search", "admin", "static"})
#: ``project-<id>`` is what we generate when the user leaves the slug empty.
GENERATED_SLUG_RE = re.compile(r"^project-\d+$")


def slug_problem(slug: str) -> Any | None:
    if not SLUG_RE.match(slug) or "--" in slug:
        return _l("半角英小文字・数字・ハイフンで3〜60文字にしてください（先頭と末尾は英数字）。")
    if slug in RESERVED_SLUGS or GENERATED_SLUG_RE.match(slug):
        return _l("このURL用の名前は使えません。別の名前にしてください。")
    return None


def get_by_slug(session: Session, slug: str) -> Project | None:
    return session.scalar(select(Project).where(Project.slug == slug))


def is_member(session: Session, user: Any, organisation_id: int) -> bool:
    """One query, so public pages can show member links without loading the member list."""
    from kyodo_fund.orgs.models import Membership

    if user is None or not getattr(user, "is_authenticated", False):
        return False
    found = session.scalar(
        select(Membership.id).where(Membership.organisation_id == organisation_id, Membership.user_id == user.id)
    )
    return found is not None


# --- creating and editing ------------------------------------------------------------------

#: Columns copied as they are from the form data.
PLAIN_FIELDS = (
    "title",
    "summary",
    "body",
    "activity_category",
    "municipality_code",
    "goal_yen",
    "starts_on",
    "ends_on",
)


def create_project(session: Session, actor: Actor, org: Organisation, data: Mapping[str, Any]) -> Project:
    """A draft project of an approved organisation, in the 企画 phase."""
    if actor.user is None:
        raise ValueError("a project is created by a signed-in member")
    if org.status != OrgStatus.APPROVED:
        raise ProjectError(_l("審査で承認された団体だけが寄附募集事業を作成できます。"))
    # A unique placeholder until the id is known and ``project-<id>`` can be used.
    project = Project(
        slug=f"tmp-{uuid.uuid4().hex}",
        organisation_id=org.id,
        status=ProjectStatus.DRAFT,
        phase=ProjectPhase.PLANNING,
        created_by_id=actor.user.id,
    )
    _apply(session, project, data)
    project.phase_changes.append(ProjectPhaseChange(phase=ProjectPhase.PLANNING, actor_id=actor.user.id))
    session.add(project)
    session.flush()
    if project.slug.startswith("tmp-"):
        project.slug = f"project-{project.id}"
        session.flush()
    record(session, actor, "projects.create", project, after={"title": project.title, "slug": project.slug})
    return project


def update_project(session: Session, actor: Actor, project: Project, data: Mapping[str, Any]) -> list[str]:
    """Apply the edit form; returns the names of the fields that changed."""
    if not project.is_editable:
        raise NotEditable()
    before = {f: getattr(project, f) for f in (*PLAIN_FIELDS, "slug")}
    _apply(session, project, data)
    session.flush()
    changed = [f for f, v in before.items() if getattr(project, f) != v]
    if changed:
        record(session, actor, "projects.update", project, after={"fields": changed})
    return changed


def _apply(session: Session, project: Project, data: Mapping[str, Any]) -> None:
    from kyodo_fund.orgs.data import CATEGORY_LABELS, MUNICIPALITY_BY_CODE

    slug = (data.get("slug") or "").strip().lower()
    if slug and slug != project.slug:
        if problem := slug_problem(slug):
            raise ProjectError(problem, "slug")
        taken = session.scalar(select(Project.id).where(Project.slug == slug, Project.id != project.id))
        if taken is not None:
            raise ProjectError(_l("このURL用の名前はすでに使われています。"), "slug")
        project.slug = slug
    if data["activity_category"] not in CATEGORY_LABELS:
        raise ProjectError(_l("活動分野を一覧から選んでください。"), "activity_category")
    if data["municipality_code"] not in MUNICIPALITY_BY_CODE:
        raise ProjectError(_l("長野県内の市町村を選んでください。"), "municipality_code")
    if data["goal_yen"] is None or data["goal_yen"] <= 0:
        raise ProjectError(_l("目標金額は1円以上にしてください。"), "goal_yen")
    if data["ends_on"] < data["starts_on"]:
        raise ProjectError(_l("終了日は開始日と同じか、それより後にしてください。"), "ends_on")
    if len(data["summary"].strip()) > 200:
        raise ProjectError(_l("概要は200文字以内にしてください。"), "summary")
    for name in PLAIN_FIELDS:
        value = data[name]
        setattr(project, name, value.strip() if isinstance(value, str) and name != "body" else value)
    # Keep the author's line breaks but not Windows' carriage returns.
    project.body = (data.get("body") or "").replace("\r\n", "\n").strip()


# --- the plan: outcome targets, partners, budget --------------------------------------------


def add_target(session: Session, actor: Actor, project: Project, data: Mapping[str, Any]) -> OutcomeTarget:
    if not project.is_editable:
        raise NotEditable()
    if data["due_on"] > project.ends_on:
        raise ProjectError(_l("期日は事業の終了日（%(end)s）までにしてください。", end=project.ends_on), "due_on")
    target = OutcomeTarget(
        indicator=data["indicator"].strip(),
        target_value=int(data["target_value"]),
        unit=data["unit"].strip(),
        due_on=data["due_on"],
    )
    project.targets.append(target)
    session.flush()
    record(session, actor, "projects.target_added", project, after={"target_id": target.id})
    return target


def add_partner(session: Session, actor: Actor, project: Project, data: Mapping[str, Any]) -> ProjectPartner:
    if not project.is_editable:
        raise NotEditable()
    partner = ProjectPartner(
        name=data["name"].strip(), partner_type=PartnerType(data["partner_type"]), role=data["role"].strip()
    )
    project.partners.append(partner)
    session.flush()
    record(session, actor, "projects.partner_added", project, after={"partner_id": partner.id})
    return partner


def add_budget_line(session: Session, actor: Actor, project: Project, data: Mapping[str, Any]) -> BudgetLine:
    if not project.is_editable:
        raise NotEditable()
    if data["amount_yen"] is None or data["amount_yen"] <= 0:
        raise ProjectError(_l("金額は1円以上にしてください。"), "amount_yen")
    line = BudgetLine(item=data["item"].strip(), amount_yen=data["amount_yen"])
    project.budget_lines.append(line)
    session.flush()
    record(session, actor, "projects.budget_line_added", project, after={"budget_line_id": line.id})
    return line


#: ``kind`` in the remove URL → the project's collection.
PLAN_COLLECTIONS = {"target": "targets", "partner": "partners", "budget": "budget_lines"}


def remove_plan_item(session: Session, actor: Actor, project: Project, kind: str, item_id: int) -> None:
    if not project.is_editable:
        raise NotEditable()
    items = getattr(project, PLAN_COLLECTIONS[kind])
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise LookupError(item_id)
    items.remove(item)
    session.flush()
    record(session, actor, f"projects.{kind}_removed", project, before={"id": item_id})


# --- screening and life cycle --------------------------------------------------------------


def overdue_report_projects(session: Session, organisation_id: int, config: Mapping[str, Any]) -> list[Project]:
    """Ended projects of the organisation whose evaluation report is past due (原則5)."""
    today = today_in_tokyo()
    candidates = session.scalars(
        select(Project)
        .where(
            Project.organisation_id == organisation_id,
            Project.status.in_((ProjectStatus.PUBLISHED, ProjectStatus.CLOSED)),
            Project.ends_on < today,
        )
        .order_by(Project.ends_on, Project.id)
    )
    due_days = int(config["PROJECT_REPORT_DUE_DAYS"])
    return [p for p in candidates if p.report_due_on(due_days) < today]


def missing_for_submission(
    session: Session, project: Project, config: Mapping[str, Any], *, new: bool = True
) -> list[Any]:
    """Everything that stops the project leaving draft (empty: ready). ``new`` adds the overdue rule."""
    missing: list[Any] = []
    if project.organisation.status != OrgStatus.APPROVED:
        missing.append(_l("団体が審査で承認されていません（承認済みの団体だけが申請できます）。"))
    minimum = int(config["DONATION_MIN_AMOUNT_YEN"])
    if project.goal_yen < minimum:
        missing.append(_l("目標金額を%(min)s円以上にしてください。", min=f"{minimum:,}"))
    if not project.body.strip():
        missing.append(_l("事業の説明を入力してください。"))
    if project.ends_on < today_in_tokyo():
        missing.append(_l("終了日が過ぎています。事業の期間を見直してください。"))
    if not project.targets:
        missing.append(_l("成果目標（指標・目標値・単位・期日）を1つ以上登録してください。"))
    for target in project.targets:
        if target.due_on > project.ends_on:
            missing.append(
                _l(
                    "成果目標「%(indicator)s」の期日（%(due)s）が事業の終了日（%(end)s）より後です。",
                    indicator=target.indicator,
                    due=target.due_on.isoformat(),
                    end=project.ends_on.isoformat(),
                )
            )
    if new and config.get("PROJECT_BLOCK_ON_OVERDUE_REPORT", True):
        for overdue in overdue_report_projects(session, project.organisation_id, config):
            missing.append(
                _l(
                    "事業「%(title)s」の評価報告が期限（%(due)s）を過ぎています。報告を提出してから申請してください。",
                    title=overdue.title,
                    due=overdue.report_due_on(int(config["PROJECT_REPORT_DUE_DAYS"])).isoformat(),
                )
            )
    return missing


class UseReportForm(ProjectError):
    def __init__(self) -> None:
        super().__init__(_l("評価報告は「報告を投稿する」から提出してください。"))


def transition_project(
    session: Session,
    actor: Actor,
    project: Project,
    action: str,
    config: Mapping[str, Any],
    reason: str | None = None,
) -> Transition:
    """A person's screening or life-cycle action (jobs call ``apply_transition`` as the system)."""
    if actor.user is None:
        # The workflow grants the system role to a missing user; a web request must never get it.
        raise NotPermitted("projects: people act signed in")
    transition = WORKFLOW.find(project.status, action)
    allowed = transition is not None and WORKFLOW.roles_of(actor.user, project) & transition.who
    if allowed and action == "report":
        raise UseReportForm()
    # Only someone allowed to submit learns what is missing; everything else is the engine's call.
    submitting = allowed and action in ("submit", "resubmit")
    if submitting and (missing := missing_for_submission(session, project, config, new=action == "submit")):
        raise Incomplete(missing)
    return apply_transition(session, WORKFLOW, project, action, actor, reason=reason)


def change_phase(session: Session, actor: Actor, project: Project, phase: ProjectPhase, note: str = "") -> None:
    """原則4: log the move to another phase of 企画→実施→評価→改善 for the public timeline."""
    if actor.user is None or not WORKFLOW.roles_of(actor.user, project) & MEMBERS:
        raise NotPermitted("projects: only members move the phase")
    if project.status == ProjectStatus.REJECTED:
        raise ProjectError(_l("却下された事業の段階は変更できません。"))
    phase = ProjectPhase(phase)
    if phase == project.phase:
        raise ProjectError(_l("すでにこの段階です。"), "phase")
    previous = project.phase
    project.phase = phase
    project.phase_changes.append(
        ProjectPhaseChange(
            phase=phase, previous_phase=previous, actor_id=getattr(actor.user, "id", None), note=note.strip()[:300]
        )
    )
    session.flush()
    record(session, actor, "projects.phase", project, before={"phase": previous.value}, after={"phase": phase.value})


def set_tax_excluded(session: Session, actor: Actor, project: Project, value: bool) -> None:
    """Staff only: receipts for this project must then carry no tax-deduction wording."""
    if actor.user is None or not actor.user.is_staff:
        raise NotPermitted("projects: only staff set tax_excluded")
    if project.tax_excluded == bool(value):
        return
    before = project.tax_excluded
    project.tax_excluded = bool(value)
    session.flush()
    record(
        session,
        actor,
        "projects.tax_excluded",
        project,
        before={"tax_excluded": before},
        after={"tax_excluded": bool(value)},
    )


# --- donation counters ---------------------------------------------------------------------


class CounterUnderflow(ValueError):
    """A refund would take ``raised_yen`` or ``donor_count`` below zero (the CHECK refused it)."""


def _move_counters(session: Session, project: Project, yen: int, donors: int) -> None:
    stmt = (
        update(Project)
        .where(Project.id == project.id)
        .values(raised_yen=Project.raised_yen + yen, donor_count=Project.donor_count + donors)
        .execution_options(synchronize_session=False)
    )
    try:
        # A savepoint, so a refused refund leaves the caller's transaction usable.
        with session.begin_nested():
            session.execute(stmt)
    except IntegrityError as exc:
        raise CounterUnderflow(f"project {project.id}: counters would go negative") from exc
    finally:
        # The row changed in SQL (another gift may have landed too): reload on next access.
        session.expire(project, ["raised_yen", "donor_count"])


def _check_amount(amount_yen: int) -> None:
    if not isinstance(amount_yen, int) or isinstance(amount_yen, bool) or amount_yen <= 0:
        raise ValueError(f"amount_yen must be a positive int, not {amount_yen!r}")


def apply_gift(session: Session, project: Project, amount_yen: int, *, new_donor: bool) -> None:
    """Add a completed gift to the project's counters in one UPDATE (safe under concurrent gifts)."""
    _check_amount(amount_yen)
    _move_counters(session, project, amount_yen, 1 if new_donor else 0)


def apply_refund(session: Session, project: Project, amount_yen: int, *, donor_gone: bool) -> None:
    """Take a refunded gift back out; ``donor_gone`` when the donor has no other gift left."""
    _check_amount(amount_yen)
    _move_counters(session, project, -amount_yen, -1 if donor_gone else 0)
