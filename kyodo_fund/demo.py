"""``flask demo``: seed local-only demo data and print the credentials."""

import click
from flask.cli import with_appcontext


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed demo users and organisations (local runs only)."""
    raise click.ClickException("not yet")
