"""Error pages: friendly, translated, and never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code and exc.code < 400:
            return exc
        return render_template("errors/error.html", error=exc), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        propagate = app.config.get("PROPAGATE_EXCEPTIONS")
        if propagate if propagate is not None else app.testing:
            raise exc
        app.logger.exception("unhandled error")
        return render_template("errors/error.html", error=None), 500
