"""Local runs: the README run command."""

SECRET_KEY = "dev-only-not-secret"
MAIL_BACKEND = "file"
