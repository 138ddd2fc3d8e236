"""kyodo_fund — the 信州協働推進ビジョン platform.

Map of the package (one line per sub-package; each opens with its own docstring):

- ``factory``, ``extensions``, ``db``, ``cli``  — the app factory, extension singletons, the SQLAlchemy base
  and session holder, the ``flask db`` commands.
- ``workflow``      — the one state-machine mechanism: transition tables + ``apply_transition``.
- ``money``, ``wareki`` — integer-yen formatting/parsing and 和暦 dates.
- ``accounts``      — sign-up, e-mail confirmation, login throttling, password reset, profile.
- ``orgs``          — organisations (団体): registration, screening, members, officers, documents.
- ``projects``      — 寄附募集事業: goals and outcome targets, screening, publish/close jobs, reports.
- ``certification`` — NPO法人 legal status and history, 認定/特例認定/指定 records, deadlines and reminders, and the
  public support test (pure and from platform data).
- ``payments``      — Stripe behind one adapter (``stripe_gateway``); the local Stripe stand-in for tests and dev.
- ``donations``     — giving through Stripe Checkout (one-off, monthly), fulfilment, the webhook, refunds,
  disputes, the daily reconciliation, offline gifts and imports, donor/organisation/admin dashboards.
- ``ledger``        — the double-entry, append-only money ledger: gifts, refunds, disputes, grants.
- ``receipts``      — receipts and annual statements (gapless numbers, PDFs, void/再発行, refunds), 寄附者名簿.
- ``tax``           — the tax-benefit estimator (所得控除/税額控除/住民税, 損金算入) and the public simulator.
- ``api``           — the public read-only JSON API (``/api/v1``), e.g. the tax estimate.
- ``audit``         — the append-only audit log and its admin browser.
- ``notifications`` — the mail outbox and its retrying sender.
- ``admin``         — the staff dashboard.
- ``main``          — home page, privacy notice, health check.
"""
