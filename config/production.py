"""Production: gunicorn workers behind a proxy, PostgreSQL, one scheduler process."""

MAIL_BACKEND = "smtp"
SESSION_COOKIE_SECURE = True
REMEMBER_COOKIE_SECURE = True
#: The ``__Host-`` prefix pins the cookie to this host, HTTPS and path /.
SESSION_COOKIE_NAME = "__Host-kyodo_session"
HSTS = True
PROXY_HOPS = 1
