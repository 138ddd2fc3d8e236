"""Local runs: the README run command."""

SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - local runs only
MAIL_BACKEND = "file"
#: The stand-in signs webhooks with this; ``bin/run-local`` registers the app's endpoint with it.
STRIPE_WEBHOOK_SECRET = "whsec_local_standin"  # noqa: S105 - local runs only
