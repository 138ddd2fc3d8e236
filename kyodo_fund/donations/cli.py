"""``flask donations import FILE.csv [--dry-run] [--by EMAIL]``: book offline gifts from a CSV file.

Every row is checked first; with any error nothing is written and the command exits 2 with the row-numbered
errors on stderr. Otherwise the new rows are booked and committed once, at the end (all or nothing).
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from tqdm import tqdm

from kyodo_fund.accounts.models import User
from kyodo_fund.audit import Actor
from kyodo_fund.donations.imports import ImportPlan, apply_import, plan_import
from kyodo_fund.extensions import db
from kyodo_fund.money import format_yen

donations_cli = AppGroup("donations", help="Offline gifts: CSV import.")

#: Below this many rows the import is over before a progress bar would be worth drawing.
PROGRESS_MIN_ROWS = 200
#: Exit status for a file with invalid rows (as ``flask pst check``); click uses 2 for usage errors too.
EXIT_INVALID_FILE = 2


@donations_cli.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and show what would be imported; write nothing.")
@click.option("--by", "by_email", metavar="EMAIL", help="Record the import under this administrator's account.")
def import_command(csv_file: Path, dry_run: bool, by_email: str | None) -> None:
    """Import offline gifts from CSV_FILE (UTF-8; header received_on,amount_yen,...,project)."""
    # No request here, so the request-based locale selector cannot run: messages in the default locale.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        actor = _actor(by_email)
        plan = plan_import(db.session, csv_file.read_bytes(), filename=csv_file.name)
        if not plan.ok:
            db.session.rollback()
            for error in plan.errors:
                click.echo(f"{csv_file.name}: {error}", err=True)
            click.echo(_("%(n)d件のエラーがあります。何も取り込んでいません。", n=len(plan.errors)), err=True)
            raise SystemExit(EXIT_INVALID_FILE)
        click.echo(summary(plan))
        if dry_run:
            db.session.rollback()
            click.echo(_("--dry-run: 確認だけで、何も書き込んでいません。"))
            return
        total = len(plan.new_rows)
        with tqdm(total=total, unit="row", disable=True if total < PROGRESS_MIN_ROWS else None) as bar:
            try:
                batch = apply_import(
                    db.session,
                    actor,
                    plan,
                    platform_fee_pct=current_app.config["PLATFORM_FEE_PCT"],
                    on_row=bar.update,
                    note=f"flask donations import, OS user {getpass.getuser()}",
                )
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
        click.echo(
            _(
                "取り込みました（バッチ %(id)d）: %(new)d件を追加、%(old)d件は取り込み済み。",
                id=batch.id,
                new=batch.rows_imported,
                old=plan.already_imported,
            )
        )


def _actor(by_email: str | None) -> Actor:
    if not by_email:
        return Actor(system=True)
    user = db.session.scalar(select(User).where(User.email == by_email.strip().lower()))
    if user is None or not user.is_admin:
        raise click.ClickException(_("管理者のアカウントが見つかりません: %(email)s", email=by_email))
    return Actor(user=user)


def summary(plan: ImportPlan) -> str:
    lines = [
        _("ファイル: %(name)s（SHA-256 %(sha)s）", name=plan.filename, sha=plan.sha256),
        _(
            "行数: %(rows)d（新規 %(new)d、取り込み済み %(old)d）",
            rows=len(plan.rows),
            new=len(plan.new_rows),
            old=plan.already_imported,
        ),
        _("新規の合計: %(amount)s", amount=format_yen(plan.new_amount_yen)),
    ]
    for project, count, amount in plan.totals_by_project():
        where = f"{project.slug}（{project.title}）" if project is not None else _("一般寄附（事業指定なし）")
        lines.append(f"  {where}: {count} / {format_yen(amount)}")
    return "\n".join(lines)
