import click
from flask import current_app
from flask.cli import AppGroup

from kyodo_fund.extensions import db
from kyodo_fund.notifications.sender import send_due

mail_cli = AppGroup("mail", help="The mail outbox.")


@mail_cli.command("send")
def send() -> None:
    """Deliver every due message now."""
    counts = send_due(db.session, current_app.config)
    click.echo(", ".join(f"{k}={v}" for k, v in counts.items()))
