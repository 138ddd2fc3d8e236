"""The CSV import service: every validation rule with its row number, all-or-nothing, idempotent re-imports,
dry runs that write nothing, and ledger balances that match the file."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit import Actor
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.imports import apply_import, plan_import
from kyodo_fund.donations.models import Channel, Donation, DonationImport, DonationStatus
from kyodo_fund.ledger.models import LedgerEntry, LedgerGroup
from kyodo_fund.ledger.services import balance, project_balance
from kyodo_fund.projects.models import ProjectStatus, today_in_tokyo
from tests.donations.offline_support import HEADER_LINE, csv_bytes, row
from tests.factories import make_org, make_project, make_user

NUMBERING = "（見出しを1行目とする）"


@pytest.fixture
def admin(db_session):
    return Actor(make_user(db_session, role=UserRole.ADMIN))


@pytest.fixture
def projects(db_session):
    org = make_org(db_session)
    return {
        "open": make_project(db_session, org, slug="kodomo-shokudo"),
        "closed": make_project(db_session, org, slug="yuki-kaki", status="closed"),
        "draft": make_project(db_session, org, slug="mada-shitagaki", status="draft"),
    }


def counts(session) -> tuple[int, int, int, int]:
    return tuple(
        session.scalar(select(func.count()).select_from(model))
        for model in (Donation, LedgerGroup, LedgerEntry, DonationImport)
    )


def plan(session, data: bytes):
    return plan_import(session, data, filename="gifts.csv")


def run(session, actor, data: bytes):
    checked = plan(session, data)
    assert checked.ok, [str(e) for e in checked.errors]
    return checked, apply_import(session, actor, checked, platform_fee_pct=10)


def messages(checked) -> list[str]:
    return [str(e) for e in checked.errors]


# --- validation, one rule at a time -------------------------------------------------------------

TOMORROW = (today_in_tokyo() + timedelta(days=1)).isoformat()

BAD_FIELDS = [
    ({"received_on": "2025/04/01"}, "received_on", "YYYY-MM-DD"),
    ({"received_on": "2025-02-30"}, "received_on", "YYYY-MM-DD"),
    ({"received_on": ""}, "received_on", "YYYY-MM-DD"),
    ({"received_on": TOMORROW}, "received_on", "未来"),
    ({"amount_yen": "1000.5"}, "amount_yen", "小数"),
    ({"amount_yen": "1000.0"}, "amount_yen", "小数"),
    ({"amount_yen": "10,000"}, "amount_yen", "カンマ"),
    ({"amount_yen": "1e4"}, "amount_yen", "指数"),
    ({"amount_yen": "-500"}, "amount_yen", "負"),
    ({"amount_yen": "0"}, "amount_yen", "0円"),
    ({"amount_yen": ""}, "amount_yen", "空"),
    ({"amount_yen": "１０００"}, "amount_yen", "半角数字"),
    ({"amount_yen": "¥1000"}, "amount_yen", "半角数字"),
    ({"amount_yen": "3000000000"}, "amount_yen", "上限"),
    ({"anonymous": "yes"}, "anonymous", "true か false"),
    ({"anonymous": ""}, "anonymous", "true か false"),
    ({"method": "card"}, "method", "bank_transfer, cash, other"),
    ({"method": "振込"}, "method", "bank_transfer, cash, other"),
    ({"project": "no-such-project"}, "project", "見つかりません"),
    ({"project": "mada-shitagaki"}, "project", "受け付けていません"),
    ({"donor_name": ""}, "donor_name", "氏名"),
    ({"email": "hanako@"}, "email", "メールアドレス"),
    ({"postal_code": "3808570"}, "postal_code", "123-4567"),
    ({"postal_code": "380-857"}, "postal_code", "123-4567"),
    ({"household": "x" * 101}, "household", "100文字"),
]


@pytest.mark.parametrize(("values", "column", "fragment"), BAD_FIELDS, ids=[f"{c}:{v}" for v, c, _ in BAD_FIELDS])
def test_each_bad_field_is_reported_with_its_row_number(db_session, projects, values, column, fragment):
    checked = plan(db_session, csv_bytes(row(), row(), row(**values)))
    assert not checked.ok
    [message] = messages(checked)
    assert message.startswith(f"4行目{NUMBERING}: {column}: "), message
    assert fragment in message


def test_every_error_of_every_row_is_reported_in_row_order(db_session, projects):
    data = csv_bytes(row(amount_yen="1.5", method="card"), row(), row(donor_name="", received_on=TOMORROW))
    found = messages(plan(db_session, data))
    assert [m.split(":")[0:2] for m in found] == [
        [f"2行目{NUMBERING}", " amount_yen"],
        [f"2行目{NUMBERING}", " method"],
        [f"4行目{NUMBERING}", " received_on"],
        [f"4行目{NUMBERING}", " donor_name"],
    ]


@pytest.mark.parametrize(
    "header",
    [
        "received_on,amount_yen,donor_name",
        HEADER_LINE.replace("amount_yen", "amount"),
        HEADER_LINE + ",note",
        HEADER_LINE.upper(),
        ",".join(reversed(HEADER_LINE.split(","))),
    ],
)
def test_a_header_that_is_not_exactly_the_agreed_one_is_refused(db_session, header):
    [message] = messages(plan(db_session, csv_bytes(row(), header=header)))
    assert message.startswith(f"1行目{NUMBERING}: ") and HEADER_LINE in message


def test_an_empty_file_and_a_header_only_file_are_refused(db_session):
    assert messages(plan(db_session, b""))[0].startswith("1行目")
    assert "データ行がありません" in messages(plan(db_session, csv_bytes()))[0]


def test_a_bom_is_accepted(db_session, admin, projects):
    _checked, batch = run(db_session, admin, csv_bytes(row(project="kodomo-shokudo"), bom=True))
    assert batch.rows_imported == 1
    assert projects["open"].raised_yen == 10_000


def test_a_file_that_is_not_utf8_is_refused_at_its_line(db_session):
    ascii_row = row(donor_name="Hanako", donor_kana="", address="Nagano")
    data = (HEADER_LINE + "\r\n" + ascii_row + "\r\n" + row(donor_name="長野 太郎") + "\r\n").encode("shift_jis")
    [message] = messages(plan(db_session, data))
    assert message.startswith(f"3行目{NUMBERING}: ") and "UTF-8" in message


def test_wrong_column_counts_and_broken_quoting_are_reported(db_session):
    short = csv_bytes(row(), "2025-04-01,1000,名前")
    assert "列が11個ではありません（3個）" in messages(plan(db_session, short))[0]
    broken = csv_bytes(row(), '2025-04-01,1000,"unterminated')
    assert messages(plan(db_session, broken))[0].startswith(f"3行目{NUMBERING}: ")


def test_blank_rows_are_skipped_but_keep_their_number(db_session, admin):
    data = csv_bytes(row(), "", ",,,,,,,,,,", row(amount_yen="x"))
    [message] = messages(plan(db_session, data))
    assert message.startswith(f"5行目{NUMBERING}: amount_yen")


def test_an_anonymous_row_needs_no_name(db_session, admin):
    _checked, batch = run(db_session, admin, csv_bytes(row(donor_name="", email="", anonymous="TRUE", method="cash")))
    donation = db_session.scalar(select(Donation).where(Donation.import_batch_id == batch.id))
    assert donation.anonymous and donation.donor_name == ""


# --- all or nothing, idempotent, dry run -------------------------------------------------------------


def test_nothing_is_imported_when_one_row_is_bad(db_session, admin, projects):
    data = csv_bytes(*[row(amount_yen=1000 + i) for i in range(20)], row(amount_yen="12.5"))
    checked = plan(db_session, data)
    assert len(checked.errors) == 1 and messages(checked)[0].startswith("22行目")
    before = counts(db_session)
    with pytest.raises(ValueError):
        apply_import(db_session, admin, checked, platform_fee_pct=10)
    assert counts(db_session) == before == (0, 0, 0, 0)


def test_the_same_file_twice_adds_nothing_the_second_time(db_session, admin, projects):
    data = csv_bytes(row(project="kodomo-shokudo"), row(amount_yen=3000), row(project="yuki-kaki"))
    _first, batch1 = run(db_session, admin, data)
    after_first = counts(db_session)
    second, batch2 = run(db_session, admin, data)

    assert (batch1.rows_imported, batch2.rows_imported) == (3, 0)
    assert (second.already_imported, len(second.new_rows)) == (3, 0)
    assert counts(db_session)[:3] == after_first[:3]
    assert projects["open"].raised_yen == 10_000


def test_two_identical_rows_in_one_file_are_two_gifts(db_session, admin, projects):
    same = row(project="kodomo-shokudo", amount_yen=5000)
    _checked, batch = run(db_session, admin, csv_bytes(same, same))
    assert batch.rows_imported == 2
    assert (projects["open"].raised_yen, projects["open"].donor_count) == (10_000, 1)
    # Re-importing the file, or a later file that adds a third identical gift, keeps the first two.
    _again, batch2 = run(db_session, admin, csv_bytes(same, same, same))
    assert batch2.rows_imported == 1


def test_a_row_differing_only_in_spacing_or_width_is_the_same_row(db_session, admin):
    run(db_session, admin, csv_bytes(row(donor_name="寄附 花子", postal_code="380-8570")))
    again = plan(db_session, csv_bytes(row(donor_name=" 寄附 花子 ", postal_code="３８０-８５７０")))
    assert again.ok and again.already_imported == 1


def test_a_project_closed_after_the_import_does_not_block_re_reading_the_file(db_session, admin, projects):
    data = csv_bytes(row(project="kodomo-shokudo"))
    run(db_session, admin, data)
    projects["open"].status = ProjectStatus.REPORTED
    db_session.flush()
    again = plan(db_session, data)
    assert again.ok and again.already_imported == 1
    new_row = plan(db_session, csv_bytes(row(project="kodomo-shokudo", amount_yen=1)))
    assert "受け付けていません" in messages(new_row)[0]


def test_a_dry_run_reads_everything_and_writes_nothing(db_session, projects):
    data = csv_bytes(row(project="kodomo-shokudo"), row(amount_yen=2500))
    checked = plan(db_session, data)
    assert checked.ok and len(checked.new_rows) == 2 and checked.new_amount_yen == 12_500
    assert counts(db_session) == (0, 0, 0, 0)
    assert projects["open"].raised_yen == 0


# --- what the import books ------------------------------------------------------------------------


def test_ledger_balances_after_import_equal_the_file_per_project(db_session, admin, projects):
    amounts = {"kodomo-shokudo": [10_000, 3_333, 1], "yuki-kaki": [50_000, 7], "": [1_234, 20_000]}
    lines = [row(project=slug, amount_yen=a, donor_name=f"寄附者{slug}{a}") for slug, xs in amounts.items() for a in xs]
    _checked, batch = run(db_session, admin, csv_bytes(*lines))

    assert batch.rows_imported == 7
    gross = defaultdict(int)
    for d in db_session.scalars(select(Donation).where(Donation.import_batch_id == batch.id)):
        assert (d.status, d.channel, d.processor_fee_yen) == (DonationStatus.PAID, Channel.OFFLINE, 0)
        gross[d.project_id] += d.amount_yen
    for slug in ("kodomo-shokudo", "yuki-kaki"):
        project = projects["open" if slug == "kodomo-shokudo" else "closed"]
        assert gross[project.id] == project.raised_yen == sum(amounts[slug])
        # The project's fund gets each gift less the platform fee (10 %, floored per gift).
        assert project_balance(db_session, project.id) == sum(a - a // 10 for a in amounts[slug])
    assert project_balance(db_session, None) == sum(a - a // 10 for a in amounts[""])
    everything = sum(sum(xs) for xs in amounts.values())
    assert balance(db_session, "bank:deposits") == everything
    assert balance(db_session, "stripe:clearing") == 0, "offline money never passes through Stripe"
    assert -balance(db_session, "fees:platform") == sum(a // 10 for xs in amounts.values() for a in xs)


def test_the_batch_records_the_file_and_is_audited(db_session, admin):
    data = csv_bytes(row(), row(amount_yen=500))
    checked, batch = run(db_session, admin, data)
    assert (batch.filename, batch.sha256, batch.rows_total, batch.rows_imported) == (
        "gifts.csv",
        checked.sha256,
        2,
        2,
    )
    assert batch.imported_by_id == admin.user.id
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "donations.imported"))
    assert entry.object_id == str(batch.id) and entry.after["amount_yen"] == 10_500
