"""NPO法人 legal status and certification (certification.md). Pure rules: deadlines (``rules``, ``dates``) and the
public support test (``pst``, ``pst_relative``, ``pst_result``, CSV inputs in ``pst_files``). Stored: legal status
with its history, 認定/特例認定/指定 records, 事業報告書 filings and revenue (``models``), moved by the two tables of
``workflow`` through ``services``; ``deadlines`` and the daily ``tasks`` (lapse, reminders); the PST from platform
data in SQL (``platform_pst``); ``flask pst check|org`` (``cli``); member pages (``views``) and staff pages
(``admin_views``).
"""

from flask import Blueprint

bp = Blueprint("certification", __name__)

from kyodo_fund.certification import admin_views, views  # noqa: E402,F401
