"""Settings: ``default`` then the environment's module, then ``KYODO_*`` environment variables.

Secrets never live in these files; production refuses to start without them.
"""

from __future__ import annotations

import importlib
import json
import os

ENVIRONMENTS = ("development", "testing", "production")


def _coerce(raw: str, current: object) -> object:
    # Environment variables are strings; keep the type the default declares.
    if isinstance(current, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return float(raw)
    if isinstance(current, (list, dict)):
        return json.loads(raw)
    return raw


def load(env: str | None = None, overrides: dict | None = None) -> dict:
    """Return the settings for ``env`` (default: ``KYODO_ENV`` or ``development``)."""
    env = env or os.environ.get("KYODO_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown KYODO_ENV {env!r}; one of {ENVIRONMENTS}")
    settings: dict = {}
    for name in ("default", env):
        module = importlib.import_module(f"config.{name}")
        settings.update({k: getattr(module, k) for k in dir(module) if k.isupper()})
    for key, raw in os.environ.items():
        if key.startswith("KYODO_") and key != "KYODO_ENV":
            name = key.removeprefix("KYODO_")
            settings[name] = _coerce(raw, settings.get(name, ""))
    settings.update(overrides or {})
    settings["ENV_NAME"] = env
    return settings
