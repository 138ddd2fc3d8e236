from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kyodo_fund.db import Base, StrEnumType, TimestampMixin, utcnow
from kyodo_fund.orgs.data import CATEGORY_LABELS, MUNICIPALITY_BY_CODE, LegalForm, Municipality

if TYPE_CHECKING:
    from kyodo_fund.accounts.models import User


class OrgStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    MORE_INFO_NEEDED = "more_info_needed"
    RESUBMITTED = "resubmitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    OrgStatus.DRAFT: _l("下書き"),
    OrgStatus.SUBMITTED: _l("審査待ち"),
    OrgStatus.UNDER_REVIEW: _l("審査中"),
    OrgStatus.MORE_INFO_NEEDED: _l("追加情報の依頼中"),
    OrgStatus.RESUBMITTED: _l("再申請済み"),
    OrgStatus.APPROVED: _l("承認済み"),
    OrgStatus.REJECTED: _l("却下"),
    OrgStatus.SUSPENDED: _l("停止中"),
}

#: Members may change the organisation's data only while no reviewer is looking at it.
EDITABLE_STATES = frozenset({OrgStatus.DRAFT, OrgStatus.MORE_INFO_NEEDED})
#: Documents may also be added once approved (yearly 事業報告書), never while under screening.
DOCUMENT_STATES = EDITABLE_STATES | {OrgStatus.APPROVED}

#: Labels shared by the registration form and the "what is missing" list.
ORG_FIELD_LABELS = {
    "name": _l("団体名"),
    "name_kana": _l("団体名（フリガナ）"),
    "slug": _l("URL用の英字名"),
    "legal_form": _l("法人格・団体の種類"),
    "corporate_number": _l("法人番号"),
    "representative_name": _l("代表者名"),
    "postal_code": _l("郵便番号"),
    "municipality_code": _l("所在市町村"),
    "address": _l("所在地"),
    "activity_categories": _l("活動分野"),
    "strengths": _l("団体の強み・得意なこと"),
    "description": _l("団体の紹介"),
    "website": _l("ウェブサイト"),
    "email": _l("連絡先メールアドレス"),
    "phone": _l("連絡先電話番号"),
    "fiscal_year_end_month": _l("決算月"),
}


class MemberRole(enum.StrEnum):
    OWNER = "owner"
    STAFF = "staff"

    @property
    def label(self) -> str:
        return {MemberRole.OWNER: _l("管理者"), MemberRole.STAFF: _l("スタッフ")}[self]


class OfficerTitle(enum.StrEnum):
    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    DIRECTOR = "director"
    AUDITOR = "auditor"
    OTHER = "other"

    @property
    def label(self) -> str:
        return OFFICER_TITLE_LABELS[self]


OFFICER_TITLE_LABELS = {
    OfficerTitle.CHAIR: _l("理事長・代表理事"),
    OfficerTitle.VICE_CHAIR: _l("副理事長"),
    OfficerTitle.DIRECTOR: _l("理事"),
    OfficerTitle.AUDITOR: _l("監事"),
    OfficerTitle.OTHER: _l("その他の役員"),
}


class DocumentKind(enum.StrEnum):
    ARTICLES = "articles"
    REGISTRY_CERTIFICATE = "registry_certificate"
    OFFICER_LIST = "officer_list"
    BUSINESS_REPORT = "business_report"
    OTHER = "other"

    @property
    def label(self) -> str:
        return DOCUMENT_KIND_LABELS[self]


DOCUMENT_KIND_LABELS = {
    DocumentKind.ARTICLES: _l("定款・会則"),
    DocumentKind.REGISTRY_CERTIFICATE: _l("登記事項証明書"),
    DocumentKind.OFFICER_LIST: _l("役員名簿"),
    DocumentKind.BUSINESS_REPORT: _l("事業報告書"),
    DocumentKind.OTHER: _l("その他"),
}


class Organisation(TimestampMixin, Base):
    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("fiscal_year_end_month BETWEEN 1 AND 12", name="fiscal_year_end_month_range"),
        CheckConstraint("corporate_number IS NULL OR length(corporate_number) = 13", name="corporate_number_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ASCII only: the organisation's URLs are /orgs/<slug>.
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str] = mapped_column(String(200), default="")
    legal_form: Mapped[LegalForm] = mapped_column(StrEnumType(LegalForm))
    #: 法人番号; NULL for unincorporated groups.
    corporate_number: Mapped[str | None] = mapped_column(String(13), index=True)
    representative_name: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(8), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    #: 全国地方公共団体コード of a Nagano municipality (``orgs.data.MUNICIPALITIES``).
    municipality_code: Mapped[str | None] = mapped_column(String(6), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    fiscal_year_end_month: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[OrgStatus] = mapped_column(StrEnumType(OrgStatus), default=OrgStatus.DRAFT, index=True)
    #: First submission; kept on resubmission so returned applications keep their place in the queue.
    submitted_at: Mapped[datetime | None]
    #: First approval; a reinstatement after suspension does not move it.
    approved_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation", cascade="all, delete-orphan")
    officers: Mapped[list[Officer]] = relationship(cascade="all, delete-orphan", order_by="Officer.id")
    documents: Mapped[list[OrgDocument]] = relationship(
        cascade="all, delete-orphan", order_by="OrgDocument.uploaded_at.desc()"
    )
    invitations: Mapped[list[OrgInvitation]] = relationship(back_populates="organisation", cascade="all, delete-orphan")
    category_links: Mapped[list[OrgActivityCategory]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="OrgActivityCategory.category"
    )
    strength_links: Mapped[list[OrgStrength]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="OrgStrength.position"
    )

    #: The activity category numbers (1–20) as a plain list of ints.
    activity_categories: AssociationProxy[list[int]] = association_proxy("category_links", "category")
    strengths: AssociationProxy[list[str]] = association_proxy("strength_links", "tag")

    @property
    def municipality(self) -> Municipality | None:
        return MUNICIPALITY_BY_CODE.get(self.municipality_code or "")

    @property
    def category_labels(self) -> list[str]:
        return [CATEGORY_LABELS[n] for n in self.activity_categories if n in CATEGORY_LABELS]

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATES

    def membership_of(self, user_id: int | None) -> Membership | None:
        return next((m for m in self.memberships if m.user_id == user_id), None)


class OrgActivityCategory(Base):
    """One row per (organisation, 別表 category): a plain join the directory can filter on."""

    __tablename__ = "org_activity_categories"
    __table_args__ = (CheckConstraint("category BETWEEN 1 AND 20", name="category_range"),)

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)


class OrgStrength(Base):
    """A free strength/skill tag (協働の原則2); talent matching filters on these."""

    __tablename__ = "org_strengths"

    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organisation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[MemberRole] = mapped_column(StrEnumType(MemberRole), default=MemberRole.STAFF)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(lazy="joined")


class Officer(Base):
    """A row of the 役員名簿. Addresses are personal data: never shown on public pages."""

    __tablename__ = "org_officers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[OfficerTitle] = mapped_column(StrEnumType(OfficerTitle))
    address: Mapped[str] = mapped_column(String(300))
    #: Same label on officers who are spouses or relatives within the third degree, so reviewers
    #: can check the NPO law's limit on relatives among officers.
    household_label: Mapped[str] = mapped_column(String(20), default="")
    #: 報酬の有無, a column of the statutory officer list.
    is_paid: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgDocument(Base):
    """An uploaded PDF. The file lives at UPLOAD_DIR/orgs/<organisation_id>/<stored_name>."""

    __tablename__ = "org_documents"
    __table_args__ = (CheckConstraint("size_bytes >= 0", name="size_bytes_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(StrEnumType(DocumentKind))
    #: Shown and offered as the download name only; never used to build a path.
    original_filename: Mapped[str] = mapped_column(String(255))
    #: uuid4 hex, no extension.
    stored_name: Mapped[str] = mapped_column(String(32), unique=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgInvitation(Base):
    """An e-mailed invitation to join an organisation. Only the token's SHA-256 is stored."""

    __tablename__ = "org_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    #: Lower-cased; only the account with this e-mail may accept.
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[MemberRole] = mapped_column(StrEnumType(MemberRole), default=MemberRole.STAFF)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship(back_populates="invitations")
