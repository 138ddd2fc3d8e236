"""Security headers on every response, error pages and static files included."""

from __future__ import annotations

from flask import Flask, Response


def content_security_policy(app: Flask) -> str:
    # Stripe Checkout is a redirect after a form POST; Chromium applies form-action to that
    # redirect, so the checkout host must be listed there (and nowhere else).
    from kyodo_fund.payments.stripe_gateway import checkout_origin

    form_action = " ".join(["'self'", checkout_origin(app.config), *app.config.get("CSP_FORM_ACTION_EXTRA", [])])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        f"frame-ancestors 'none'; form-action {form_action}"
    )


def register_security_headers(app: Flask) -> None:
    csp = content_security_policy(app)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if app.config.get("HSTS"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response
