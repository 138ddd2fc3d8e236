"""After a request commits, try to deliver the mail it queued; failures stay queued for the job."""

from __future__ import annotations

from flask import Flask, Response, g
from sqlalchemy import event
from sqlalchemy.orm import Session

from kyodo_fund.extensions import db
from kyodo_fund.notifications.services import PENDING_KEY


def register_after_commit_sending(app: Flask) -> None:
    @event.listens_for(db.session_factory, "after_commit")
    def _collect(session: Session) -> None:
        ids = session.info.pop(PENDING_KEY, [])
        if ids:
            try:
                g.setdefault("outbox_ids", []).extend(ids)
            except RuntimeError:  # outside a request (CLI, jobs): the mail job sends them
                pass

    @event.listens_for(db.session_factory, "after_rollback")
    def _forget(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)

    @app.after_request
    def _send_after_response(response: Response) -> Response:
        ids = g.pop("outbox_ids", None)
        if ids and app.config.get("MAIL_SEND_AFTER_COMMIT"):
            response.call_on_close(lambda: _send(app, ids))
        return response


def _send(app: Flask, ids: list[int]) -> None:
    from kyodo_fund.notifications.sender import send_due

    with app.app_context():
        session = db.session_factory()
        try:
            send_due(session, app.config, ids=ids)
        except Exception:  # never break a response over mail; the job retries
            app.logger.exception("after-commit mail delivery failed")
        finally:
            session.close()
