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


def make_org(session, owner=None, status="approved", **fields):
    """A complete, valid organisation (one officer) that could be submitted as is; ``owner`` becomes its owner.

    ``activity_categories`` (ints) and ``strengths`` (strs) may be passed as lists.
    """
    from kyodo_fund.orgs.corporate_number import with_check_digit
    from kyodo_fund.orgs.data import LegalForm
    from kyodo_fund.orgs.models import (
        MemberRole,
        Membership,
        Officer,
        OfficerTitle,
        OrgActivityCategory,
        Organisation,
        OrgStatus,
        OrgStrength,
    )

    status = OrgStatus(status)
    n = next(_seq)
    categories = fields.pop("activity_categories", [1, 13])
    strengths = fields.pop("strengths", ["子ども食堂", "高齢者の見守り"])
    officers = fields.pop("officers", None)
    values = {
        "slug": f"test-org-{n}",
        "name": f"テスト団体{n}",
        "name_kana": "テストダンタイ",
        "legal_form": LegalForm.NPO_HOUJIN,
        "corporate_number": with_check_digit(f"{n:012d}"),
        "representative_name": f"代表 太郎{n}",
        "postal_code": "380-8570",
        "address": "長野県長野市大字南長野字幅下692-2",
        "municipality_code": "202011",
        "description": "信州で子どもの居場所づくりに取り組んでいます。",
        "website": "https://example.jp/",
        "email": f"org{n}@example.jp",
        "phone": "026-232-0111",
        "fiscal_year_end_month": 3,
        "status": status,
    }
    if status not in (OrgStatus.DRAFT,):
        values["submitted_at"] = utcnow()
    if status in (OrgStatus.APPROVED, OrgStatus.SUSPENDED):
        values["approved_at"] = utcnow()
    values.update(fields)
    org = Organisation(**values)
    org.category_links = [OrgActivityCategory(category=c) for c in categories]
    org.strength_links = [OrgStrength(tag=t, position=i) for i, t in enumerate(strengths)]
    org.officers = (
        officers
        if officers is not None
        else [Officer(name=f"理事 花子{n}", title=OfficerTitle.CHAIR, address="長野県長野市1-1")]
    )
    if owner is not None:
        org.memberships.append(Membership(user_id=owner.id, role=MemberRole.OWNER))
    session.add(org)
    session.flush()
    return org


def make_project(session, org, status="published", **fields):
    """A project of ``org`` that could be submitted as is: goal ¥300,000, one outcome target, 企画 phase.

    Dates default to today … today+60 (Tokyo). ``targets`` may be passed as a list of dicts
    (``[]`` for none); the status's ``*_at`` timestamps are filled in.
    """
    from datetime import timedelta

    from kyodo_fund.projects.models import (
        OutcomeTarget,
        Project,
        ProjectPhase,
        ProjectPhaseChange,
        ProjectStatus,
        today_in_tokyo,
    )

    status = ProjectStatus(status)
    n = next(_seq)
    today = today_in_tokyo()
    targets = fields.pop("targets", None)
    values = {
        "slug": f"test-project-{n}",
        "title": f"テスト事業{n}",
        "summary": "地域の子どもに温かい食事と居場所を届けます。",
        "body": "毎週土曜日に子ども食堂を開きます。\n地元の農家と協力します。",
        "activity_category": 13,
        "municipality_code": "202011",
        "goal_yen": 300_000,
        "starts_on": today,
        "ends_on": today + timedelta(days=60),
        "status": status,
        "phase": ProjectPhase.PLANNING,
    }
    values.update(fields)
    now = utcnow()
    stamps = {
        ProjectStatus.SUBMITTED: ("submitted_at",),
        ProjectStatus.MORE_INFO_NEEDED: ("submitted_at",),
        ProjectStatus.RESUBMITTED: ("submitted_at",),
        ProjectStatus.REJECTED: ("submitted_at",),
        ProjectStatus.APPROVED: ("submitted_at", "approved_at"),
        ProjectStatus.PUBLISHED: ("submitted_at", "approved_at", "published_at"),
        ProjectStatus.CLOSED: ("submitted_at", "approved_at", "published_at", "closed_at"),
        ProjectStatus.REPORTED: ("submitted_at", "approved_at", "published_at", "closed_at", "reported_at"),
    }
    for name in stamps.get(status, ()):
        values.setdefault(name, now)
    project = Project(organisation_id=org.id, **values)
    if targets is None:
        targets = [{"indicator": "提供する食事", "target_value": 1200, "unit": "食", "due_on": values["ends_on"]}]
    project.targets = [OutcomeTarget(**t) for t in targets]
    project.phase_changes = [ProjectPhaseChange(phase=values["phase"])]
    session.add(project)
    session.flush()
    return project


def make_offline_donation(session, project=None, *, actor=None, **fields):
    """A paid offline gift booked through the real service (ledger group and project counters included).

    Defaults: ¥10,000 by bank transfer received yesterday (Tokyo) from a named donor; ``fields`` override
    any keyword of ``record_offline_donation``.
    """
    from datetime import timedelta

    from kyodo_fund.audit import Actor
    from kyodo_fund.donations.offline import record_offline_donation
    from kyodo_fund.projects.models import today_in_tokyo

    n = next(_seq)
    values = {
        "received_on": today_in_tokyo() - timedelta(days=1),
        "amount_yen": 10_000,
        "method": "bank_transfer",
        "donor_name": f"寄附 太郎{n}",
        "donor_kana": "キフ タロウ",
        "postal_code": "380-0001",
        "address": f"長野県長野市{n}-1",
        "email": f"donor{n}@example.jp",
        "platform_fee_pct": 10,
    }
    values.update(fields)
    return record_offline_donation(session, actor or Actor(), project=project, **values)


def make_donation(session, project=None, *, post_to_ledger: bool = False, **fields):
    """A PAID online card gift with donor details (¥3,000 by default); ``post_to_ledger`` books it too.

    ``project`` None means the general fund. Project counters are left alone.
    """
    import uuid

    from kyodo_fund.donations.models import Channel, Donation, DonationKind, DonationStatus, PaymentMethod
    from kyodo_fund.money import percent_of
    from kyodo_fund.projects.models import today_in_tokyo

    n = next(_seq)
    amount = fields.pop("amount_yen", 3000)
    values = {
        "public_id": uuid.uuid4().hex,
        "project_id": project.id if project is not None else None,
        "kind": DonationKind.ONE_OFF,
        "channel": Channel.ONLINE,
        "method": PaymentMethod.CARD,
        "status": DonationStatus.PAID,
        "amount_yen": amount,
        "processor_fee_yen": (amount * 36 + 500) // 1000,
        "platform_fee_yen": percent_of(amount, 10),
        "donor_name": f"寄附 太郎{n}",
        "donor_kana": "キフ タロウ",
        "donor_postal_code": "380-8570",
        "donor_address": "長野県長野市大字南長野字幅下692-2",
        "donor_email": f"donor{n}@example.jp",
        "stripe_charge_id": f"ch_test_factory_{n}",
        "paid_at": utcnow(),
        "received_on": today_in_tokyo(),
    }
    values.update(fields)
    donation = Donation(**values)
    session.add(donation)
    session.flush()
    if post_to_ledger:
        from kyodo_fund.ledger.services import post_donation

        post_donation(
            session,
            source_ref=donation.stripe_charge_id or f"donation:{donation.id}",
            project_id=donation.project_id,
            gross_yen=donation.amount_yen,
            processor_fee_yen=donation.processor_fee_yen,
            platform_fee_pct=10,
            donation_id=donation.id,
            occurred_at=donation.paid_at,
        )
    return donation
