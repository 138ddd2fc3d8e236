"""Local runs: the README run command."""

SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - local runs only
MAIL_BACKEND = "file"
