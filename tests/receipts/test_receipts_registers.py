"""寄附者名簿: fiscal years, the CSV's contents, unknown donors, municipal lists, the download and its audit."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import Channel, DonationStatus
from kyodo_fund.orgs.models import Membership, Organisation
from kyodo_fund.receipts import registers
from tests.factories import make_org, make_project, make_user


def rows_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("end_month", "year", "expected"),
    [
        (3, 2025, (date(2025, 4, 1), date(2026, 3, 31))),
        (12, 2025, (date(2025, 1, 1), date(2025, 12, 31))),
        (6, 2025, (date(2025, 7, 1), date(2026, 6, 30))),
        (None, 2025, (date(2025, 4, 1), date(2026, 3, 31))),
    ],
)
def test_fiscal_year_bounds(end_month, year, expected):
    assert registers.fiscal_year_bounds(end_month, year) == expected


@pytest.mark.parametrize(
    ("address", "place"),
    [
        ("長野県松本市丸の内3-7", "松本市"),
        ("長野市大字南長野字幅下692-2", "長野市"),
        ("長野県北佐久郡軽井沢町大字長倉2381-1", "軽井沢町"),
        ("軽井沢町大字長倉2381-1", "軽井沢町"),
        ("東京都千代田区丸の内1-1", registers.OUTSIDE),
        ("", registers.OUTSIDE),
    ],
)
def test_municipality_of(address, place):
    assert registers.municipality_of(address) == place


@pytest.fixture
def register_gifts(db_session, project, gift):
    """Fiscal year 2025 of an org closing in March: 1 April 2025 – 31 March 2026."""
    other = make_project(db_session, project.organisation, title="第二の事業")
    user = make_user(db_session, name="会員 太郎", address="長野県上田市大手1-11-16", postal_code="386-8601")
    at = lambda y, m, d: datetime(y, m, d, 3, 0, tzinfo=UTC)  # noqa: E731
    gift(paid_at=at(2025, 3, 31), donor_name="前年度 一郎")  # FY2024
    gift(
        paid_at=at(2025, 4, 1),
        donor_name="信濃 花子",
        amount_yen=10_000,
        refunded_yen=2_000,
        status=DonationStatus.PARTIALLY_REFUNDED,
    )
    gift(project=other, paid_at=at(2025, 8, 15), user_id=user.id, donor_name="", donor_address="", amount_yen=5_000)
    gift(
        paid_at=None,
        received_on=date(2025, 11, 3),
        anonymous=True,
        donor_name="",
        donor_address="",
        donor_email="",
        amount_yen=12_345,
        channel=Channel.OFFLINE,
    )
    gift(paid_at=at(2026, 1, 20), donor_name='=HYPERLINK("x")', amount_yen=3_000)
    gift(paid_at=at(2026, 2, 1), status=DonationStatus.REFUNDED, refunded_yen=3_000, donor_name="返金 済子")
    gift(paid_at=at(2026, 4, 1), donor_name="翌年度 次郎")  # FY2026
    gift(
        project=make_project(db_session, make_org(db_session)),
        paid_at=at(2025, 6, 1),
        donor_name="他団体 三郎",
    )
    return project.organisation


def test_register_lists_the_fiscal_years_gifts(app_ctx, db_session, register_gifts):
    rows = rows_of(registers.donor_register_csv(db_session, register_gifts, 2025))
    assert rows[0] == ["受入年月日", "氏名", "郵便番号", "住所", "寄附金額", "寄附先の事業", "区分"]
    assert rows[1:] == [
        [
            "2025-04-01",
            "信濃 花子",
            "390-0873",
            "長野県松本市丸の内3-7",
            "8000",
            "信州の森づくりプロジェクト",
            "オンライン",
        ],
        ["2025-08-15", "会員 太郎", "386-8601", "長野県上田市大手1-11-16", "5000", "第二の事業", "オンライン"],
        ["2025-11-03", "", "", "", "12345", "信州の森づくりプロジェクト", "匿名・募金箱等"],
        [
            "2026-01-20",
            '\'=HYPERLINK("x")',
            "390-0873",
            "長野県松本市丸の内3-7",
            "3000",
            "信州の森づくりプロジェクト",
            "オンライン",
        ],
    ]


def test_municipal_lists_group_known_donors_by_place(app_ctx, db_session, register_gifts):
    lists = registers.municipal_list_csvs(db_session, register_gifts, 2025)
    assert set(lists) == {"松本市", "上田市"}
    assert [r[1] for r in rows_of(lists["松本市"])[1:]] == ["前年度 一郎", "信濃 花子"]


def test_download_for_members_and_staff_is_audited(app, db_session, sign_in, register_gifts):
    member = make_user(db_session)
    db_session.add(Membership(organisation_id=register_gifts.id, user_id=member.id))
    slug = register_gifts.slug
    client = sign_in(member)
    response = client.get(f"/orgs/{slug}/donor-list.csv?fy=2025")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="donor-list-{slug}-FY2025.csv"'
    assert len(rows_of(response.data)) == 5
    assert client.get(f"/orgs/{slug}/donor-list.csv?fy=20x5").status_code == 400
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "receipts.donor_list_export"))
    assert (entry.actor_id, entry.object_type, entry.after) == (
        member.id,
        "Organisation",
        {"fiscal_year": 2025, "via": "web"},
    )


def test_cli_writes_the_register_and_explains_the_missing_municipal_lists(app, db_session, register_gifts, tmp_path):
    db_session.commit()
    out = tmp_path / "register.csv"
    slug = db_session.get(Organisation, register_gifts.id).slug
    result = app.test_cli_runner().invoke(
        args=["receipts", "donor-list", "--org", slug, "--fiscal-year", "2025", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(rows_of(out.read_bytes())) == 5
    assert "条例指定NPO法人ではないため作成しません" in result.output
    missing = app.test_cli_runner().invoke(args=["receipts", "donor-list", "--org", "nope", "--fiscal-year", "2025"])
    assert missing.exit_code != 0 and "nope" in missing.output


def test_cli_writes_municipal_lists_for_a_jorei_issuer(app, db_session, register_gifts, tmp_path, configure_issuer):
    configure_issuer("jorei_npo")
    db_session.commit()
    slug = db_session.get(Organisation, register_gifts.id).slug
    out = tmp_path / "register.csv"
    result = app.test_cli_runner().invoke(
        args=["receipts", "donor-list", "--org", slug, "--fiscal-year", "2025", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / f"municipal-{slug}-2025"
    assert sorted(p.name for p in folder.iterdir()) == ["上田市.csv", "松本市.csv"]
