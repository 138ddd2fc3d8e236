"""``flask donations import`` through Flask's CLI runner: exit codes, output, dry runs, one commit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kyodo_fund.accounts.models import UserRole
from kyodo_fund.audit.models import AuditEntry
from kyodo_fund.donations.models import Donation, DonationImport
from kyodo_fund.projects.models import Project
from tests.donations.offline_support import csv_bytes, row
from tests.factories import make_org, make_project, make_user


@pytest.fixture
def runner(app, db_session):
    cli = app.test_cli_runner()

    class _Runner:
        def invoke(self, args):
            # The command's app context ends by removing the session: keep the test's own rows first.
            db_session.commit()
            return cli.invoke(args=args)

    return _Runner()


@pytest.fixture
def project(db_session):
    return make_project(db_session, make_org(db_session), slug="kodomo-shokudo", title="子ども食堂")


def donations(session) -> int:
    return session.scalar(select(func.count()).select_from(Donation))


def write(tmp_path, data: bytes, name: str = "gifts.csv") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_import_books_the_rows_and_prints_a_summary(runner, db_session, project, tmp_path):
    path = write(tmp_path, csv_bytes(row(project="kodomo-shokudo"), row(amount_yen=2500), bom=True))
    result = runner.invoke(args=["donations", "import", path])

    assert result.exit_code == 0, result.output
    assert "行数: 2（新規 2、取り込み済み 0）" in result.stdout
    assert "新規の合計: ¥12,500" in result.stdout
    assert "kodomo-shokudo（子ども食堂）: 1 / ¥10,000" in result.stdout
    assert "一般寄附（事業指定なし）: 1 / ¥2,500" in result.stdout
    assert "2件を追加、0件は取り込み済み" in result.stdout
    assert donations(db_session) == 2
    batch = db_session.scalar(select(DonationImport))
    assert (batch.filename, batch.rows_imported, batch.imported_by_id) == ("gifts.csv", 2, None)
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "donations.imported"))
    assert entry.actor_label == "system" and entry.note.startswith("flask donations import")


def test_importing_the_same_file_again_adds_nothing(runner, db_session, project, tmp_path):
    path = write(tmp_path, csv_bytes(row(), row(amount_yen=1)))
    assert runner.invoke(args=["donations", "import", path]).exit_code == 0
    again = runner.invoke(args=["donations", "import", path])
    assert again.exit_code == 0
    assert "0件を追加、2件は取り込み済み" in again.stdout
    assert donations(db_session) == 2


def test_an_invalid_file_exits_2_with_row_numbered_errors_on_stderr(runner, db_session, project, tmp_path):
    path = write(tmp_path, csv_bytes(row(), row(amount_yen="1,000"), row(method="card", project="nope")))
    result = runner.invoke(args=["donations", "import", path])

    assert result.exit_code == 2
    errors = result.stderr.splitlines()
    assert errors[0] == "gifts.csv: 3行目（見出しを1行目とする）: amount_yen: 桁区切りのカンマは使えません: 1,000"
    assert errors[1].startswith("gifts.csv: 4行目（見出しを1行目とする）: method: ")
    assert errors[2].startswith("gifts.csv: 4行目（見出しを1行目とする）: project: ")
    assert "3件のエラーがあります。何も取り込んでいません。" in errors[3]
    assert result.stdout == ""
    assert donations(db_session) == 0


def test_a_dry_run_reports_and_writes_nothing(runner, db_session, project, tmp_path):
    project_id = project.id
    path = write(tmp_path, csv_bytes(row(project="kodomo-shokudo")))
    result = runner.invoke(args=["donations", "import", path, "--dry-run"])

    assert result.exit_code == 0
    assert "行数: 1（新規 1、取り込み済み 0）" in result.stdout and "--dry-run" in result.stdout
    assert donations(db_session) == 0
    assert db_session.scalar(select(func.count()).select_from(DonationImport)) == 0
    assert db_session.get(Project, project_id).raised_yen == 0


def test_a_dry_run_of_an_invalid_file_fails_too(runner, db_session, tmp_path):
    path = write(tmp_path, csv_bytes(row(received_on="tomorrow")))
    result = runner.invoke(args=["donations", "import", path, "--dry-run"])
    assert result.exit_code == 2 and "received_on" in result.stderr


def test_by_records_the_administrator_and_refuses_anyone_else(runner, db_session, tmp_path):
    admin = make_user(db_session, "kanri@example.jp", role=UserRole.ADMIN)
    make_user(db_session, "donor@example.jp")
    path = write(tmp_path, csv_bytes(row()))

    refused = runner.invoke(args=["donations", "import", path, "--by", "donor@example.jp"])
    assert refused.exit_code == 1 and "donor@example.jp" in refused.stderr
    assert donations(db_session) == 0

    result = runner.invoke(args=["donations", "import", path, "--by", "KANRI@example.jp"])
    assert result.exit_code == 0
    assert db_session.scalar(select(DonationImport.imported_by_id)) == admin.id


def test_a_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(args=["donations", "import", str(tmp_path / "nothing.csv")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_a_big_file_shows_a_progress_bar_only_on_a_terminal(runner, db_session, tmp_path):
    # tqdm draws nothing when stderr is not a terminal (as here), so logs and pipes stay clean.
    path = write(tmp_path, csv_bytes(*[row(amount_yen=1000 + i) for i in range(250)]))
    result = runner.invoke(args=["donations", "import", path])
    assert result.exit_code == 0
    assert "250件を追加" in result.stdout and "row/s" not in result.stderr
    assert donations(db_session) == 250
