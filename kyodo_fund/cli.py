"""Top-level CLI groups; each domain adds its own commands in its ``cli.py``."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup

ROOT = Path(__file__).resolve().parent.parent

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "migrations" / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url or current_app.config["SQLALCHEMY_DATABASE_URI"]
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Bring the schema up to REVISION (default: head)."""
    command.upgrade(alembic_config(), revision)


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade(revision: str) -> None:
    command.downgrade(alembic_config(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """Autogenerate a migration from the models; read and edit it before committing."""
    command.revision(alembic_config(), message=message, autogenerate=True)


@db_cli.command("current")
def current() -> None:
    command.current(alembic_config())


def register(app: Flask) -> None:
    from kyodo_fund.certification.cli import pst_cli
    from kyodo_fund.demo import demo_command
    from kyodo_fund.donations.cli import donations_cli
    from kyodo_fund.jobs.cli import jobs_cli
    from kyodo_fund.notifications.cli import mail_cli
    from kyodo_fund.receipts.cli import receipts_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(donations_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(pst_cli)
    app.cli.add_command(receipts_cli)
