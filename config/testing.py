"""The test suite. The database URL comes from KYODO_TEST_DATABASE_URL via tests/conftest.py."""

TESTING = True
SECRET_KEY = "test-only-not-secret"  # noqa: S105 - tests only
WTF_CSRF_ENABLED = True
MAIL_BACKEND = "smtp"
MAIL_SEND_AFTER_COMMIT = False
RATELIMIT_ENABLED = False
PUBLIC_PAGE_CACHE_SECONDS = 0  # tests see every change at once; tests/test_pagecache.py switches it on
