"""Defaults shared by every environment. Each name can be overridden by ``KYODO_<NAME>``."""

SECRET_KEY = ""  # KYODO_SECRET_KEY; development and testing set a local one
DATABASE_URL = ""  # empty: sqlite file under instance/
SQL_ECHO = False

BABEL_DEFAULT_LOCALE = "ja"
BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
LANGUAGES = ["ja", "en"]

# Mail. MAIL_BACKEND: "smtp", "file" (writes .eml files under instance/mail) or "console".
MAIL_BACKEND = "smtp"
MAIL_DEFAULT_SENDER = "kyodo-fund@localhost"
SMTP_HOST = "127.0.0.1"
SMTP_PORT = 25
SMTP_USERNAME = ""
SMTP_PASSWORD = ""
SMTP_STARTTLS = False
SMTP_TIMEOUT = 10
#: Try to deliver freshly queued mail right after the commit of the request that queued it;
#: whatever fails stays in the outbox for the scheduler's retrying sender.
MAIL_SEND_AFTER_COMMIT = True
MAIL_MAX_ATTEMPTS = 8

# Rate limits (Flask-Limiter). Redis in production: "redis://127.0.0.1:6379/0".
RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_ENABLED = True
LOGIN_LIMIT_PER_IP = "20 per 10 minutes"
LOGIN_LIMIT_PER_ACCOUNT = "10 per 10 minutes"

# Accounts
PASSWORD_MIN_LENGTH = 8
CONFIRM_TOKEN_HOURS = 48
RESET_TOKEN_MINUTES = 60
INVITE_TOKEN_HOURS = 168
REMEMBER_COOKIE_DAYS = 30

# Uploads
MAX_CONTENT_LENGTH = 12 * 1024 * 1024
DOCUMENT_MAX_BYTES = 10 * 1024 * 1024
UPLOAD_DIR = ""  # empty: instance/uploads

# Cookies / transport
SESSION_COOKIE_NAME = "kyodo_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = False
REMEMBER_COOKIE_SECURE = False
REMEMBER_COOKIE_HTTPONLY = True
REMEMBER_COOKIE_SAMESITE = "Lax"
HSTS = False
#: Number of reverse proxies in front of the app (ProxyFix); 0 trusts no X-Forwarded-* header.
PROXY_HOPS = 0

PUBLIC_BASE_URL = "http://127.0.0.1:5000"
PAGE_SIZE = 20

# Tax-benefit estimator (receipts-and-tax.md §9). Assumptions, hence configuration:
#: Order in which the ¥2,000 floor and the 40%-of-income cap are used up (F3).
ESTIMATOR_FLOOR_ORDER = ["deduction_only", "nintei_npo", "koeki_cert"]
ESTIMATOR_FLOOR_YEN = 2000
#: Resident-tax credit rates (F5); Nagano has no 政令指定都市. Must be whole basis points.
ESTIMATOR_RESIDENT_RATES = {"prefecture": 0.04, "municipality": 0.06}
#: Marginal income-tax rate (%) the simulator assumes until the donor picks one.
ESTIMATOR_DEFAULT_MARGINAL_RATE_PCT = 10
#: Flask-Limiter rule for the public JSON API.
API_RATE_LIMIT = "120 per minute"
