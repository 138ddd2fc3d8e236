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
RATELIMIT_HEADERS_ENABLED = True  # Retry-After on 429
LOGIN_LIMIT_PER_IP = "20 per 10 minutes"
LOGIN_LIMIT_PER_ACCOUNT = "10 per 10 minutes"
SIGNUP_LIMIT_PER_IP = "10 per hour"
FORGOT_LIMIT_PER_IP = "10 per hour"
#: Sign-up, password-reset and re-sent confirmation mails to one address, whoever asks.
MAIL_LIMIT_PER_ADDRESS = "5 per hour"

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

# Ledger (kyodo_fund.ledger; the webhook handler passes these to the posting services)
#: Platform fee, % of the gross gift (floored to whole yen); it covers Stripe's processing fee
#: (payments.md §9: ¥10,000 → ¥1,000 fee, ¥9,000 grantable).
PLATFORM_FEE_PCT = 10
#: Who bears the processing fee Stripe keeps on refunded money. Only "fund" is implemented: the
#: fee's share moves to the refunds:loss account and the project gives back only its net share.
REFUND_FEE_BORNE_BY = "fund"
#: Stripe's dispute (chargeback) fee for a JP account, booked to the fund when a dispute is lost.
#: ASSUMPTION: ¥1,500 — check the account's Stripe pricing page before go-live.
DISPUTE_FEE_YEN = 1500

# Certification and the public support test (certification.md). All but the reminder days are assumptions the prefecture
# confirms before go-live; kyodo_fund.certification.rules / .pst read them through ``from_config``.
#: Whether the day of the triggering event (receipt, notice) is day 1 of an establishment deadline (民法: no).
DEADLINES_FIRST_DAY_COUNTS = False
#: Opening day of the 認定 renewal window: "day_after_expiry_minus_6m" (Saitama) or "expiry_minus_6m" (Tokyo).
CERTIFICATION_RENEWAL_OPEN = "day_after_expiry_minus_6m"
#: Second renewal reminder, this many days before the window closes.
CERTIFICATION_RENEWAL_REMINDER_DAYS = 30
#: Reminder before a 認定/特例認定 expires, this many days ahead.
CERTIFICATION_EXPIRY_REMINDER_DAYS = 60
#: A reminder whose day passed while the job did not run is still sent this many days later, never after.
CERTIFICATION_REMINDER_CATCH_UP_DAYS = 14
#: PST absolute standard: sum a household's gifts for the ¥3,000 test (such units are flagged for review).
PST_HOUSEHOLD_SUM = True
#: Who is an officer for the PST: "any_time_in_fy" or "judging_date" (the as-of date).
PST_OFFICER_BASIS = "any_time_in_fy"
#: Annual average of the absolute standard: "months" (Σ × 12 ÷ months) or "fiscal_years" (Σ ÷ years).
PST_ABS_NORMALISE = "months"
#: Relative standard: count 国の補助金等 in the numerator (capped) and keep them in the denominator.
PST_REL_INCLUDE_SUBSIDY = False

# Stripe (kyodo_fund.payments.stripe_gateway, the only module that talks to it). With an empty
# secret key the platform talks to the local stand-in (`python -m kyodo_fund.payments.standin`).
STRIPE_SECRET_KEY = ""  # KYODO_STRIPE_SECRET_KEY (sk_test_... / sk_live_...); required in production
#: The stand-in's address, used only while STRIPE_SECRET_KEY is empty: a real key always goes to api.stripe.com.
STRIPE_API_BASE = "http://127.0.0.1:8420"  # KYODO_STRIPE_API_BASE
STRIPE_WEBHOOK_SECRET = ""  # KYODO_STRIPE_WEBHOOK_SECRET (whsec_...)
#: More accepted webhook secrets while one is being rotated (KYODO_STRIPE_WEBHOOK_SECRETS, a JSON list).
STRIPE_WEBHOOK_SECRETS: list = []
#: Must match the key (sk_live_ ⇔ True); webhook events of the other mode are ignored (payments.md W5).
STRIPE_LIVEMODE = False
STRIPE_TIMEOUT_SECONDS = 20
#: Extra origins for the CSP's form-action. The Checkout origin (checkout.stripe.com, or the stand-in's
#: origin while STRIPE_SECRET_KEY is empty) comes from stripe_gateway.checkout_origin(config).
CSP_FORM_ACTION_EXTRA: list = []

# Projects (vision.md 原則1 and 原則5).
#: Smallest gift, and the smallest goal a project may have to leave draft.
DONATION_MIN_AMOUNT_YEN = 1000
#: The evaluation report is due this many days after a project's end.
PROJECT_REPORT_DUE_DAYS = 60
#: While an organisation has an overdue evaluation report it cannot submit a new project.
PROJECT_BLOCK_ON_OVERDUE_REPORT = True
PROJECT_COVER_MAX_BYTES = 2 * 1024 * 1024

# Donations (kyodo_fund.donations; payments.md §2, §8, §9).
#: Largest single gift (Stripe's card maximum for JPY, stripe.max_amount_jpy).
DONATION_MAX_AMOUNT_YEN = 99_999_999
#: The amounts offered as buttons on the donation form; any other amount can be typed.
DONATION_PRESETS_YEN = [3000, 5000, 10000]
#: Starting Checkout (card-testing defence CT2): per client IP, per browser session, per e-mail address.
DONATION_CHECKOUT_LIMIT_PER_IP = "5 per 10 minutes"
DONATION_CHECKOUT_LIMIT_PER_SESSION = "5 per 10 minutes"
DONATION_CHECKOUT_LIMIT_PER_EMAIL = "5 per 10 minutes"
#: Processor fee estimate (%), booked only when Stripe's balance transaction is not available.
#: ASSUMPTION (payments.md §9, fees.estimate): card 3.6 %, subscriptions +0.7 %.
FEE_ESTIMATE_PCT = 3.6
FEE_ESTIMATE_SUBSCRIPTION_EXTRA_PCT = 0.7
#: How far back the daily reconciliation lists Stripe events and Checkout Sessions.
RECONCILE_LOOKBACK_DAYS = 3
#: A card donation still pending after this long is re-fetched from Stripe by the reconciliation.
RECONCILE_PENDING_AFTER_MINUTES = 60

# Receipts, annual statements and donor registers (kyodo_fund.receipts; receipts-and-tax.md, payments.md §10).
#: The host fund, which receives pass-through gifts as its own revenue and issues their receipts. ``kind`` is
#: the issuer kind it would have at best; the rules in receipts.issuers lower it per gift date (R2–R5).
#: ASSUMPTION (R6): no 税額控除 certificate and no 県 designation known, i.e. 所得控除 only.
#: PLACEHOLDERS: address and representative must be set to the fund's registered ones before go-live.
RECEIPT_ISSUER = {
    "kind": "koeki",
    "name": "公益財団法人長野県みらい基金",
    "address": "長野県長野市大字南長野字幅下692-2",
    "representative": "理事長",
    "main_purpose": "",
    "tax_credit_cert_number": None,
    "tax_credit_cert_date": None,  # "YYYY-MM-DD"; the certificate counts for 5 years from this date (R3)
    "pref_designated_from": None,  # "YYYY-MM-DD": 条例指定 by 長野県 effective from this date (R4)
    "receipt_date_basis": "settlement",  # "settlement" 決済日 (the only basis implemented) or "deposit" 入金日
}
#: payments.md §10 programme.recipient_model: "fund" (the host fund issues every receipt). "direct": each NPO
#: issues its own, typed by its certification record in force on the gift date (certification_on).
#: The PST from platform data follows it too (A7): under "fund" the host fund is the organisation's one donor.
PROGRAMME_RECIPIENT_MODEL = "fund"
#: R7 ASSUMPTION: PDF by e-mail, paper on request.
RECEIPTS_DELIVERY = "pdf+post_on_request"
#: Counters run per calendar year of the issue date in Asia/Tokyo (§3).
RECEIPTS_NUMBER_YEAR_BASIS = "calendar"
#: §6 ASSUMPTION: PDFs carry no stamp duty.
RECEIPTS_PDF_STAMP_EXEMPT = True
#: The public verification page (the QR code target), per client IP.
RECEIPTS_VERIFY_RATE_LIMIT = "30 per minute"
#: Annual statements for the previous calendar year are issued from this day (MM-DD, Asia/Tokyo) on;
#: the daily job keeps catching up stragglers (fixed addresses, late imports) for this many days.
STATEMENTS_RUN_ON = "01-15"
STATEMENTS_CATCH_UP_DAYS = 45
#: Donors per batch when streaming the annual run (memory stays flat whatever the number of donors).
STATEMENTS_BATCH_SIZE = 500
#: Donors per transaction in the annual run: a crash loses at most this many (the rerun redoes them) and
#: SQLite/PostgreSQL pay one commit per group instead of one per statement.
STATEMENTS_COMMIT_EVERY = 50
#: Worker processes that draw the statement PDFs while the run does the database work (0 or 1: in-process).
#: Only used when at least STATEMENTS_RENDER_POOL_FROM statements are ready (starting workers costs ~0.1 s).
STATEMENTS_RENDER_WORKERS = 2
STATEMENTS_RENDER_POOL_FROM = 100
#: Groups (of STATEMENTS_COMMIT_EVERY donors) drawn ahead by the workers while the run stores the current one.
STATEMENTS_DRAW_AHEAD = 3
#: Read-only worker processes that check the donors before an annual run (the preflight), used from
#: STATEMENTS_PREFLIGHT_POOL_FROM donors (each worker builds its own app, ~1 s; below that one process is quicker).
STATEMENTS_PREFLIGHT_WORKERS = 2
STATEMENTS_PREFLIGHT_POOL_FROM = 20_000
#: 寄附者名簿: kept this many years (特例認定: 3); municipal lists of jorei_npo issuers due on MM-DD (ASSUMPTION).
REGISTERS_RETENTION_YEARS = 5
REGISTERS_MUNICIPAL_LIST_DUE = "01-31"

#: Anonymous visitors' project list and organisation directory are served from a per-process cache
#: for this many seconds (0 = off). Project pages are never cached.
PUBLIC_PAGE_CACHE_SECONDS = 30
