"""kyodo_fund — the 信州協働推進ビジョン platform.

Map of the package (one line per sub-package; each opens with its own docstring):

- ``factory``, ``extensions``, ``db``, ``cli``  — the app factory, extension singletons, the SQLAlchemy base
  and session holder, the ``flask db`` commands.
- ``workflow``      — the one state-machine mechanism: transition tables + ``apply_transition``.
- ``money``, ``wareki`` — integer-yen formatting/parsing and 和暦 dates.
- ``accounts``      — sign-up, e-mail confirmation, login throttling, password reset, profile.
- ``orgs``          — organisations (団体): registration, screening, members, officers, documents.
- ``audit``         — the append-only audit log and its admin browser.
- ``notifications`` — the mail outbox and its retrying sender.
- ``admin``         — the staff dashboard.
- ``main``          — home page, privacy notice, health check.
"""
