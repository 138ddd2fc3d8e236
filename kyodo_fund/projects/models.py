from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyodo_fund.db import Base, StrEnumType, TimestampMixin, utcnow

if TYPE_CHECKING:
    from kyodo_fund.orgs.models import Organisation

TOKYO = ZoneInfo("Asia/Tokyo")


def today_in_tokyo() -> date:
    """Start and end dates are Japanese calendar days, whatever the server's zone."""
    return utcnow().astimezone(TOKYO).date()


class ProjectStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    MORE_INFO_NEEDED = "more_info_needed"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    CLOSED = "closed"
    REPORTED = "reported"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ProjectStatus.DRAFT: _l("下書き"),
    ProjectStatus.SUBMITTED: _l("審査待ち"),
    ProjectStatus.MORE_INFO_NEEDED: _l("追加情報の依頼中"),
    ProjectStatus.RESUBMITTED: _l("再申請済み"),
    ProjectStatus.APPROVED: _l("承認済み（公開待ち）"),
    ProjectStatus.REJECTED: _l("却下"),
    ProjectStatus.PUBLISHED: _l("寄附募集中"),
    ProjectStatus.CLOSED: _l("募集終了"),
    ProjectStatus.REPORTED: _l("評価報告済み"),
}

#: Statuses anybody may see; every other status answers 404 to outsiders.
PUBLIC_STATES = frozenset({ProjectStatus.PUBLISHED, ProjectStatus.CLOSED, ProjectStatus.REPORTED})
#: Members change the project only while no reviewer is looking at it and nobody has given to it.
EDITABLE_STATES = frozenset({ProjectStatus.DRAFT, ProjectStatus.MORE_INFO_NEEDED})


class ProjectPhase(enum.StrEnum):
    """協働の原則4: the whole process 企画→実施→評価→改善 is shared in public."""

    PLANNING = "planning"
    IMPLEMENTATION = "implementation"
    EVALUATION = "evaluation"
    IMPROVEMENT = "improvement"

    @property
    def label(self) -> str:
        return PHASE_LABELS[self]


PHASE_LABELS = {
    ProjectPhase.PLANNING: _l("企画"),
    ProjectPhase.IMPLEMENTATION: _l("実施"),
    ProjectPhase.EVALUATION: _l("評価"),
    ProjectPhase.IMPROVEMENT: _l("改善"),
}


class PartnerType(enum.StrEnum):
    NPO = "npo"
    PREFECTURE = "prefecture"
    MUNICIPALITY = "municipality"
    COMPANY = "company"
    RESIDENTS = "residents"
    INTERMEDIARY = "intermediary"

    @property
    def label(self) -> str:
        return PARTNER_TYPE_LABELS[self]


PARTNER_TYPE_LABELS = {
    PartnerType.NPO: _l("NPO"),
    PartnerType.PREFECTURE: _l("県"),
    PartnerType.MUNICIPALITY: _l("市町村"),
    PartnerType.COMPANY: _l("企業"),
    PartnerType.RESIDENTS: _l("住民団体"),
    PartnerType.INTERMEDIARY: _l("中間支援"),
}


class ReportKind(enum.StrEnum):
    PROGRESS = "progress"
    EVALUATION = "evaluation"

    @property
    def label(self) -> str:
        return {ReportKind.PROGRESS: _l("活動報告"), ReportKind.EVALUATION: _l("評価報告")}[self]


class Project(TimestampMixin, Base):
    """A 寄附募集事業: what an approved organisation raises money for, with its goals (原則1)."""

    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("goal_yen > 0", name="goal_yen_positive"),
        CheckConstraint("raised_yen >= 0", name="raised_yen_non_negative"),
        CheckConstraint("donor_count >= 0", name="donor_count_non_negative"),
        CheckConstraint("ends_on >= starts_on", name="ends_after_start"),
        CheckConstraint("activity_category BETWEEN 1 AND 20", name="activity_category_range"),
        CheckConstraint("length(summary) <= 200", name="summary_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ASCII only: the project's URLs are /projects/<slug>.
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(200), default="")
    #: Plain text; pages escape it and keep its line breaks with CSS, never ``|safe``.
    body: Mapped[str] = mapped_column(Text, default="")
    #: Number 1–20 of the 特定非営利活動 category (``orgs.data.ACTIVITY_CATEGORIES``).
    activity_category: Mapped[int] = mapped_column(Integer, index=True)
    #: 全国地方公共団体コード of the Nagano municipality where the project takes place.
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    goal_yen: Mapped[int] = mapped_column(Integer)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[ProjectStatus] = mapped_column(StrEnumType(ProjectStatus), default=ProjectStatus.DRAFT, index=True)
    phase: Mapped[ProjectPhase] = mapped_column(StrEnumType(ProjectPhase), default=ProjectPhase.PLANNING)
    #: uuid4 hex of the cover image under UPLOAD_DIR/projects/; NULL when there is none.
    cover_name: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: "image/png" or "image/jpeg", decided from the file's magic bytes.
    cover_type: Mapped[str | None] = mapped_column(String(20))
    #: Staff-only: receipts for gifts to this project must carry no tax-deduction wording.
    tax_excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Denormalised from donations by ``apply_gift`` / ``apply_refund`` so lists never aggregate.
    raised_yen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    donor_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: First submission; kept on resubmission so returned projects keep their place in the queue.
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    closed_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship()
    targets: Mapped[list[OutcomeTarget]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="(OutcomeTarget.due_on, OutcomeTarget.id)"
    )
    partners: Mapped[list[ProjectPartner]] = relationship(cascade="all, delete-orphan", order_by="ProjectPartner.id")
    budget_lines: Mapped[list[BudgetLine]] = relationship(cascade="all, delete-orphan", order_by="BudgetLine.id")
    phase_changes: Mapped[list[ProjectPhaseChange]] = relationship(
        cascade="all, delete-orphan", order_by="(ProjectPhaseChange.changed_at, ProjectPhaseChange.id)"
    )
    reports: Mapped[list[ActivityReport]] = relationship(
        back_populates="project",
        cascade="all, delete-orphan",
        order_by="(ActivityReport.published_at.desc(), ActivityReport.id.desc())",
    )

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATES

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATES

    @property
    def category_label(self) -> str:
        from kyodo_fund.orgs.data import CATEGORY_LABELS

        return str(CATEGORY_LABELS.get(self.activity_category, ""))

    @property
    def municipality_name(self) -> str:
        from kyodo_fund.orgs.data import MUNICIPALITY_BY_CODE

        municipality = MUNICIPALITY_BY_CODE.get(self.municipality_code or "")
        return municipality.name if municipality else ""

    @property
    def progress_percent(self) -> int:
        """Whole percent of the goal raised, floored; may pass 100."""
        return self.raised_yen * 100 // self.goal_yen if self.goal_yen else 0

    @property
    def progress_value(self) -> int:
        """The ``<progress value>``: the element cannot show more than full."""
        return min(self.raised_yen, self.goal_yen)

    def days_left(self, today: date) -> int | None:
        """Days of giving left including today; None once the project no longer takes gifts."""
        if self.status != ProjectStatus.PUBLISHED or self.ends_on < today:
            return None
        return (self.ends_on - today).days + 1

    @property
    def ended_on(self) -> date:
        """The day the project ended: its end date, or the day it was closed early."""
        if self.closed_at is not None:
            return min(self.ends_on, self.closed_at.astimezone(TOKYO).date())
        return self.ends_on

    def report_due_on(self, due_days: int) -> date:
        """協働の原則5: the evaluation report is due this many days after the project's end."""
        return self.ended_on + timedelta(days=due_days)


class OutcomeTarget(Base):
    """原則1: how much, by when. ``achieved_value`` is copied from the latest evaluation report."""

    __tablename__ = "project_outcome_targets"
    __table_args__ = (
        CheckConstraint("target_value >= 0", name="target_value_non_negative"),
        CheckConstraint("achieved_value IS NULL OR achieved_value >= 0", name="achieved_value_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    indicator: Mapped[str] = mapped_column(String(200))
    target_value: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20))
    #: Must not be after the project's end (checked on submission; the project's dates may change).
    due_on: Mapped[date] = mapped_column(Date)
    achieved_value: Mapped[int | None] = mapped_column(Integer)

    project: Mapped[Project] = relationship(back_populates="targets")


class ProjectPartner(Base):
    """原則3: a row of the role table. The applicant is shown first as 実施主体 without a row."""

    __tablename__ = "project_partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    partner_type: Mapped[PartnerType] = mapped_column(StrEnumType(PartnerType))
    role: Mapped[str] = mapped_column(String(300))


class BudgetLine(Base):
    __tablename__ = "project_budget_lines"
    __table_args__ = (CheckConstraint("amount_yen > 0", name="amount_yen_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(200))
    amount_yen: Mapped[int] = mapped_column(Integer)


class ProjectPhaseChange(Base):
    """原則4: one row per phase the project entered, shown on the public page as a timeline."""

    __tablename__ = "project_phase_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    phase: Mapped[ProjectPhase] = mapped_column(StrEnumType(ProjectPhase))
    #: NULL for the first row (the project was created in this phase).
    previous_phase: Mapped[ProjectPhase | None] = mapped_column(StrEnumType(ProjectPhase))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: A public one-line note ("参加者アンケートを集計中" ...).
    note: Mapped[str] = mapped_column(String(300), default="")


class ActivityReport(Base):
    """原則5: a published report. Evaluation reports carry an achieved value for every target."""

    __tablename__ = "project_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ReportKind] = mapped_column(StrEnumType(ReportKind))
    title: Mapped[str] = mapped_column(String(200))
    #: Plain text, escaped on pages like the project body.
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    project: Mapped[Project] = relationship(back_populates="reports")
    values: Mapped[list[ReportValue]] = relationship(cascade="all, delete-orphan", order_by="ReportValue.target_id")


class ReportValue(Base):
    """The achieved value of one outcome target as stated in one evaluation report."""

    __tablename__ = "project_report_values"
    __table_args__ = (CheckConstraint("achieved_value >= 0", name="achieved_value_non_negative"),)

    report_id: Mapped[int] = mapped_column(ForeignKey("project_reports.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("project_outcome_targets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    achieved_value: Mapped[int] = mapped_column(Integer)
