"""Activity and evaluation reports (協働の原則5): published on the project page and mailed out.

An evaluation report states the achieved value of every outcome target; posting one to a closed
project moves it to ``reported``.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from kyodo_fund.audit import Actor
from kyodo_fund.audit.services import record
from kyodo_fund.notifications.services import queue_email
from kyodo_fund.projects.models import ActivityReport, Project, ProjectStatus, ReportKind, ReportValue
from kyodo_fund.projects.services import ProjectError
from kyodo_fund.projects.workflow import MEMBERS, WORKFLOW, member_recipients
from kyodo_fund.workflow import NotPermitted, apply_transition

#: Where each kind of report may be posted.
REPORT_STATES = {
    ReportKind.PROGRESS: frozenset({ProjectStatus.PUBLISHED, ProjectStatus.CLOSED, ProjectStatus.REPORTED}),
    ReportKind.EVALUATION: frozenset({ProjectStatus.CLOSED, ProjectStatus.REPORTED}),
}


def report_recipients(session: Session, project: Project) -> list[tuple[str, str]]:
    """Who receives a posted report by e-mail: ``(email, locale)`` pairs, each address once.

    The organisation's members, then the project's donors (活動報告の送付 is a stated purpose of use).
    """
    from kyodo_fund.donations.services import donor_recipients

    seen: dict[str, str] = {}
    for email, locale in [*member_recipients(session, project), *donor_recipients(session, project)]:
        seen.setdefault(email.lower(), locale)
    return list(seen.items())


def can_post(project: Project, kind: ReportKind) -> bool:
    return project.status in REPORT_STATES[ReportKind(kind)]


def post_report(
    session: Session,
    actor: Actor,
    project: Project,
    *,
    kind: ReportKind,
    title: str,
    body: str,
    achieved: Mapping[int, int | None] | None = None,
) -> ActivityReport:
    """Publish a report now and queue it to ``report_recipients``; ``achieved`` maps target id → value."""
    if actor.user is None or not WORKFLOW.roles_of(actor.user, project) & MEMBERS:
        raise NotPermitted("projects: reports are posted by the organisation's members")
    kind = ReportKind(kind)
    if not can_post(project, kind):
        if kind == ReportKind.EVALUATION:
            raise ProjectError(_l("評価報告は寄附の募集を終了した後に提出できます。"), "kind")
        raise ProjectError(_l("活動報告は事業の公開後に投稿できます。"), "kind")
    achieved = achieved or {}
    report = ActivityReport(
        kind=kind, title=title.strip(), body=body.replace("\r\n", "\n").strip(), author_id=actor.user.id
    )
    if kind == ReportKind.EVALUATION:
        missing = [t.indicator for t in project.targets if achieved.get(t.id) is None]
        if missing:
            raise ProjectError(
                _l("すべての成果目標の達成値を入力してください: %(names)s", names="、".join(missing)), "achieved"
            )
        for target in project.targets:
            value = int(achieved[target.id])
            if value < 0:
                raise ProjectError(_l("達成値は0以上の整数にしてください。"), "achieved")
            report.values.append(ReportValue(target_id=target.id, achieved_value=value))
            target.achieved_value = value
    project.reports.append(report)
    session.flush()
    record(session, actor, "projects.report_posted", project, after={"report_id": report.id, "kind": kind.value})
    if kind == ReportKind.EVALUATION and project.status == ProjectStatus.CLOSED:
        apply_transition(session, WORKFLOW, project, "report", actor)
    for email, locale in report_recipients(session, project):
        queue_email(
            session,
            "project_report",
            to=email,
            locale=locale,
            context={"project": project, "report": report},
            dedupe_key=f"project_report:{report.id}:{email}",
        )
    return report
