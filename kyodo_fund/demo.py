"""``flask demo``: seed local-only demo data through the same services the pages use.

Idempotent: a second run finds the demo administrator and changes nothing. The passwords printed
are for a local machine only; production never runs this (it refuses to).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from kyodo_fund.accounts.models import User, UserRole
from kyodo_fund.accounts.services import hash_password
from kyodo_fund.audit import Actor
from kyodo_fund.db import utcnow
from kyodo_fund.extensions import db

DEMO_PASSWORD = "demo-pass-1234"  # noqa: S105 - printed for local use only

USERS = (
    ("admin@demo.kyodo.test", "管理 太郎", "カンリ タロウ", UserRole.ADMIN),
    ("reviewer@demo.kyodo.test", "審査 花子", "シンサ ハナコ", UserRole.REVIEWER),
    ("npo1@demo.kyodo.test", "信濃 一郎", "シナノ イチロウ", UserRole.DONOR),
    ("npo2@demo.kyodo.test", "安曇 二葉", "アズミ フタバ", UserRole.DONOR),
    ("npo3@demo.kyodo.test", "諏訪 三郎", "スワ サブロウ", UserRole.DONOR),
    ("donor@demo.kyodo.test", "千曲 寄子", "チクマ ヨリコ", UserRole.DONOR),
    ("donor2@demo.kyodo.test", "木曽 文太", "キソ ブンタ", UserRole.DONOR),
)

ORGS = (
    # (owner, slug, name, kana, legal form, municipality, categories, strengths, final action)
    (
        "npo1@demo.kyodo.test",
        "shinano-kodomo",
        "NPO法人しなの子ども食堂ネット",
        "シナノコドモショクドウネット",
        "npo_houjin",
        "202011",
        [1, 13],
        "子ども食堂, 食品ロス削減",
        "approve",
    ),
    (
        "npo2@demo.kyodo.test",
        "azumino-satoyama",
        "一般社団法人安曇野里山の会",
        "アズミノサトヤマノカイ",
        "ippan_shadan",
        "202207",
        [5, 7],
        "里山整備, 環境教育",
        "approve",
    ),
    (
        "npo3@demo.kyodo.test",
        "suwa-bousai",
        "諏訪湖防災ボランティア",
        "スワコボウサイボランティア",
        "nin_i",
        "202061",
        [8, 9],
        "防災訓練, 災害ボランティア",
        "submit",
    ),
    (
        "npo3@demo.kyodo.test",
        "kiso-bunka",
        "木曽文化継承プロジェクト",
        "キソブンカケイショウプロジェクト",
        "nin_i",
        "204234",
        [6],
        "伝統芸能, 記録映像",
        None,
    ),
)

PROJECTS = (
    (
        "shinano-kodomo",
        "kodomo-shokudo-2026",
        "子ども食堂で温かい夕食を",
        600_000,
        13,
        "202011",
        ("提供する食事の数", 1200, "食"),
    ),
    (
        "shinano-kodomo",
        "fudo-bank",
        "フードバンクの冷蔵庫を増やす",
        300_000,
        1,
        "202011",
        ("保管できる食品の量", 500, "kg"),
    ),
    (
        "azumino-satoyama",
        "satoyama-michi",
        "里山の散策路を再生する",
        450_000,
        7,
        "202207",
        ("整備する散策路の長さ", 3, "km"),
    ),
)


def _user(session: Any, email: str, name: str, kana: str, role: UserRole) -> User:
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(
            email=email,
            password_hash=hash_password(DEMO_PASSWORD),
            role=role,
            email_confirmed_at=utcnow(),
            name=name,
            name_kana=kana,
            postal_code="380-8570",
            address="長野県長野市大字南長野字幅下692-2",
        )
        session.add(user)
        session.flush()
    return user


def _org(session: Any, owner: User, admin: User, reviewer: User, spec: tuple) -> Any:
    from kyodo_fund.orgs.models import OfficerTitle, Organisation
    from kyodo_fund.orgs.services import add_officer, register_org, transition_org

    _, slug, name, kana, legal_form, muni, categories, strengths, final = spec
    existing = session.scalar(select(Organisation).where(Organisation.slug == slug))
    if existing is not None:
        return existing
    actor = Actor(owner)
    org = register_org(
        session,
        actor,
        {
            "slug": slug,
            "name": name,
            "name_kana": kana,
            "legal_form": legal_form,
            "corporate_number": _corporate_number(session) if legal_form != "nin_i" else "",
            "representative_name": owner.name,
            "postal_code": "380-8570",
            "address": "長野県長野市大字南長野字幅下692-2",
            "municipality_code": muni,
            "description": f"{name}は、信州の地域課題に住民と協働して取り組む団体です。",
            "website": "https://example.jp/",
            "email": owner.email,
            "phone": "026-232-0111",
            "fiscal_year_end_month": 3,
            "activity_categories": categories,
            "strengths": strengths,
        },
    )
    add_officer(session, actor, org, {"name": owner.name, "title": OfficerTitle.CHAIR.value, "address": owner.address})
    if final is not None:
        transition_org(session, actor, org, "submit")
    if final == "approve":
        transition_org(session, Actor(reviewer), org, "start_review")
        transition_org(session, Actor(admin), org, "approve")
    return org


def _corporate_number(session: Any) -> str:
    from kyodo_fund.orgs.corporate_number import with_check_digit
    from kyodo_fund.orgs.models import Organisation

    count = len(session.scalars(select(Organisation.id)).all())
    return with_check_digit(f"{2100001000 + count:012d}")


def _project(session: Any, admin: User, spec: tuple) -> Any:
    from kyodo_fund.orgs.models import Organisation
    from kyodo_fund.projects.models import Project, today_in_tokyo
    from kyodo_fund.projects.services import add_target, create_project, transition_project

    org_slug, slug, title, goal, category, muni, (indicator, value, unit) = spec
    existing = session.scalar(select(Project).where(Project.slug == slug))
    if existing is not None:
        return existing
    org = session.scalar(select(Organisation).where(Organisation.slug == org_slug))
    owner = session.get(User, org.memberships[0].user_id)
    today = today_in_tokyo()
    actor = Actor(owner)
    project = create_project(
        session,
        actor,
        org,
        {
            "slug": slug,
            "title": title,
            "summary": f"「{title}」のための寄附を募集しています。",
            "body": f"{org.name}が実施する事業です。\n集まった寄附は事業費として助成されます。",
            "activity_category": category,
            "municipality_code": muni,
            "goal_yen": goal,
            "starts_on": today,
            "ends_on": today + timedelta(days=90),
        },
    )
    add_target(
        session,
        actor,
        project,
        {"indicator": indicator, "target_value": value, "unit": unit, "due_on": today + timedelta(days=90)},
    )
    config = current_app.config
    transition_project(session, actor, project, "submit", config)
    transition_project(session, Actor(admin), project, "approve", config)
    transition_project(session, Actor(admin), project, "publish", config)
    return project


#: Offline gifts (bank transfers) so progress bars, the ledger, receipts and the PST have something to show.
GIFTS = (
    ("kodomo-shokudo-2026", 30_000, "松本 一子", "マツモト イチコ", "長野県松本市丸の内3-7"),
    ("kodomo-shokudo-2026", 10_000, "上田 次郎", "ウエダ ジロウ", "長野県上田市大手1-11-16"),
    ("kodomo-shokudo-2026", 5_000, "飯田 三奈", "イイダ ミナ", "長野県飯田市大久保町2534"),
    ("satoyama-michi", 50_000, "株式会社信州里山", "カブシキガイシャシンシュウサトヤマ", "長野県安曇野市豊科6000"),
)


def _gifts(session: Any, admin: User) -> None:
    from kyodo_fund.donations.models import Donation
    from kyodo_fund.projects.models import Project, today_in_tokyo

    if session.scalar(select(Donation.id).limit(1)) is not None:
        return
    today = today_in_tokyo()
    for slug, amount, name, kana, address in GIFTS:
        _bank_transfer(
            session,
            admin,
            received_on=today,
            amount_yen=amount,
            project=session.scalar(select(Project).where(Project.slug == slug)),
            donor_name=name,
            donor_kana=kana,
            address=address,
        )


def _bank_transfer(session: Any, admin: User, **fields: Any) -> None:
    """A demo gift entered as staff enter a bank transfer: through the offline-gift service, which validates it."""
    from kyodo_fund.donations.offline import record_offline_donation

    record_offline_donation(
        session,
        Actor(admin),
        method="bank_transfer",
        postal_code="390-0000",
        platform_fee_pct=current_app.config["PLATFORM_FEE_PCT"],
        **fields,
    )


#: Last year's gifts of donors who chose one annual statement (年間まとめ), so that ``flask receipts annual --year
#: <last year>`` has something to issue: (name, kana, e-mail, address, yen, months).
ANNUAL_DONORS = (
    ("千曲 寄子", "チクマ ヨリコ", "chikuma.yoriko@example.jp", "長野県千曲市杭瀬下2-1", 3_000, range(1, 13)),
    ("木曽 文太", "キソ ブンタ", "kiso.bunta@example.jp", "長野県木曽郡木曽町福島2326-6", 10_000, (6, 12)),
)


def _annual_gifts(session: Any, admin: User) -> None:
    from datetime import date

    from kyodo_fund.donations.models import Donation, ReceiptPreference
    from kyodo_fund.projects.models import today_in_tokyo

    if session.scalar(select(Donation.id).where(Donation.receipt_preference == ReceiptPreference.ANNUAL).limit(1)):
        return
    year = today_in_tokyo().year - 1
    for name, kana, email, address, amount, months in ANNUAL_DONORS:
        for month in months:
            _bank_transfer(
                session,
                admin,
                received_on=date(year, month, 10),
                amount_yen=amount,
                donor_name=name,
                donor_kana=kana,
                address=address,
                email=email,
                receipt_preference=ReceiptPreference.ANNUAL,
            )


def _certification(session: Any, admin: User) -> None:
    """The first demo NPO法人 is certified (認定) since 2022-04-01: its renewal window is open in late 2026."""
    from datetime import date

    from kyodo_fund.certification.filings import record_filing
    from kyodo_fund.certification.services import record_certification, record_established_on, records_of
    from kyodo_fund.orgs.models import Organisation
    from kyodo_fund.projects.models import today_in_tokyo

    org = session.scalar(select(Organisation).where(Organisation.slug == "shinano-kodomo"))
    if records_of(session, org.id):
        return
    today, actor = today_in_tokyo(), Actor(admin)
    record_established_on(session, actor, org, date(2018, 6, 1), today=today)
    record_certification(
        session,
        actor,
        org,
        kind="nintei",
        granted_on=date(2022, 4, 1),
        today=today,
        notice_number="長野県指令4県協第123号",
    )
    for year in range(2019, today.year + 1):  # every 事業報告書 filed on time since establishment
        fy_end, filed = date(year, 3, 31), date(year, 6, 20)
        if filed <= today:
            record_filing(session, actor, org, fiscal_year_end=fy_end, filed_on=filed, today=today)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed demo users, organisations and projects (local runs only) and print the credentials."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("flask demo never runs in production")
    session = db.session
    users = {email: _user(session, email, name, kana, role) for email, name, kana, role in USERS}
    admin, reviewer = users["admin@demo.kyodo.test"], users["reviewer@demo.kyodo.test"]
    for spec in ORGS:
        _org(session, users[spec[0]], admin, reviewer, spec)
    for spec in PROJECTS:
        _project(session, admin, spec)
    _gifts(session, admin)
    _annual_gifts(session, admin)
    _certification(session, admin)
    session.commit()
    click.echo("Demo data ready (local use only). Every account's password: " + DEMO_PASSWORD)
    owners = {spec[0] for spec in ORGS}
    for email, name, _kana, role in USERS:
        kind = "npo member" if email in owners else role.value
        click.echo(f"  {kind:10} {email:28} {name}")
