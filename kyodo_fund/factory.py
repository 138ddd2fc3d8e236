"""``create_app``: reads like the table of contents of the platform."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, current_app
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings
from kyodo_fund.extensions import babel, csrf, db, limiter, login_manager

ROOT = Path(__file__).resolve().parent.parent


def create_app(env: str | None = None, overrides: dict | None = None) -> Flask:
    app = Flask(
        "kyodo_fund",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "kyodo_fund" / "static"),
        instance_path=os.environ.get("KYODO_INSTANCE_PATH", str(ROOT / "instance")),
    )
    load_config(app, env, overrides)
    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_request_hooks(app)
    register_cli(app)
    return app


def load_config(app: Flask, env: str | None, overrides: dict | None) -> None:
    app.config.update(settings.load(env, overrides))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'kyodo_fund.sqlite3'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    app.config.setdefault("UPLOAD_DIR", "")
    if not app.config["UPLOAD_DIR"]:
        app.config["UPLOAD_DIR"] = str(Path(app.instance_path) / "uploads")
    app.config.setdefault("MAIL_FILE_DIR", str(Path(app.instance_path) / "mail"))
    app.config["REMEMBER_COOKIE_DURATION"] = app.config["REMEMBER_COOKIE_DAYS"] * 86400
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("KYODO_SECRET_KEY must be set in production")
    if app.config.get("PROXY_HOPS"):
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_extensions(app: Flask) -> None:
    from kyodo_fund.certification.identities import register_flush_hook
    from kyodo_fund.i18n import select_locale

    db.init_app(app)
    # Every write of a gift keeps its PST donor identity, household and year totals current.
    register_flush_hook()
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, default_translation_directories=str(ROOT / "translations"))
    limiter.init_app(app)
    # Flask-Limiter reads RATELIMIT_ENABLED once, onto the shared limiter; with several apps in one
    # process (tests, tools) each request must follow its own app's setting.
    limiter.request_filter(lambda: not current_app.config.get("RATELIMIT_ENABLED", True))
    login_manager.init_app(app)
    from kyodo_fund.accounts.services import load_user_for_session

    login_manager.user_loader(load_user_for_session)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"


def register_blueprints(app: Flask) -> None:
    from kyodo_fund import (
        accounts,
        admin,
        api,
        audit,
        certification,
        donations,
        jobs,
        main,
        orgs,
        projects,
        receipts,
        tax,
    )

    for module in (main, accounts, orgs, audit, admin, jobs, tax, api, projects, donations, certification, receipts):
        app.register_blueprint(module.bp)


def register_template_helpers(app: Flask) -> None:
    from kyodo_fund.templating import register

    register(app)


def register_request_hooks(app: Flask) -> None:
    from kyodo_fund.errors import register_error_pages
    from kyodo_fund.notifications.hooks import register_after_commit_sending
    from kyodo_fund.security import register_security_headers

    register_security_headers(app)
    register_error_pages(app)
    register_after_commit_sending(app)


def register_cli(app: Flask) -> None:
    from kyodo_fund.cli import register

    register(app)
