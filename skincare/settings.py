"""Settings for Skincare, read from the environment.

Without DJANGO_DEBUG=1 the site runs in production posture: DEBUG off, a secret key
required, hosts from DJANGO_ALLOWED_HOSTS. docs/operations.md lists every variable.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# The editor's settings live with the editor; Django reads them from here by name.
from core.editor.settings import (  # noqa: F401
    CKEDITOR_ALLOW_NONIMAGE_FILES,
    CKEDITOR_BROWSE_SHOW_DIRS,
    CKEDITOR_CONFIGS,
    CKEDITOR_IMAGE_BACKEND,
    CKEDITOR_RESTRICT_BY_USER,
    CKEDITOR_UPLOAD_PATH,
    EDITOR_APPS,
    EDITOR_SILENCED_CHECKS,
)
from skincare import backends, email_providers

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item]


DEBUG = env_bool("DJANGO_DEBUG")
HTTPS = env_bool("DJANGO_HTTPS")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is not 1 "
            "(see docs/operations.md, 'Environment variables')."
        )
    # Only ever used with DEBUG on, on a developer's machine.
    SECRET_KEY = "development-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else ""
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    *EDITOR_APPS,
    "csp",
    "axes",
    "django_otp",
    "staff.apps.AuthenticatorAppsConfig",
    "staff.apps.PasskeysConfig",
    # Before django_tasks_db: its `db_worker` command is core's (with heartbeats,
    # core/workers.py), as Django takes a command from the first app that has it.
    "core",
    "django_tasks",
    "django_tasks_db",
    # The health checks (core/health.py) and `manage.py health_check`.
    "health_check",
    # Email providers' APIs and their tracking webhooks (skincare/email_providers.py).
    "anymail",
    "articles",
    "newsletter",
    "staff",
]

MIDDLEWARE = [
    # First: behind the front proxy, REMOTE_ADDR becomes the reader's address.
    "core.client_address.FrontProxyClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise and the page cache, so static files and cached pages get them.
    "skincare.middleware.ResourcePolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A response that does not say how it may be cached is private (core/pagecache.py).
    "core.pagecache.DefaultCacheControlMiddleware",
    # With read replicas: an anonymous GET of a public page may read one (above the
    # page cache, which reads the page version the replica must have reached).
    "core.db_routers.ReplicaReadsMiddleware",
    # Public pages for visitors without a session, served before the middleware
    # below (which made them, compressed them and added their headers) runs again.
    "core.pagecache.PageCacheMiddleware",
    # Above everything that changes the body or sets cookies, so it compresses the
    # final response and sees every cookie set on it; below WhiteNoise, which
    # serves its own pre-compressed static files.
    "skincare.middleware.SecretFreeGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): has this session given its second factor?
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Staff who can publish or review give their code before any admin page.
    "staff.middleware.StaffTwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "skincare.middleware.PathAwareCSPMiddleware",
    # SQLite's "database is locked" from a view: a 503 "try again", not a 500.
    "core.busy.DatabaseBusyMiddleware",
    # After authentication (it lets staff send uploads) and inside the header
    # middleware (its 413 page gets their headers); no middleware reads the body.
    "skincare.middleware.RequestSizeLimitMiddleware",
    # Last, so it sees the outcome of every login attempt (django-axes' own advice).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "skincare.urls"
WSGI_APPLICATION = "skincare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default (skincare/backends.py); DATABASE_URL names another.
SQLITE_PATH = os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Database connections persist for this many seconds (one per process: each
# gunicorn sync worker and each db_worker), checked before reuse so a connection the
# server or a firewall dropped is replaced rather than failing a request; 0 opens one
# per request. docs/operations.md, "Running on several machines", counts them.
# DATABASE_POOLER=pgbouncer: DATABASE_URL is a PgBouncer in transaction mode
# (skincare/backends.py says what that turns off).
_conn_max_age = int(os.environ.get("DJANGO_CONN_MAX_AGE", "60"))
DATABASES = {
    "default": backends.database(
        url=DATABASE_URL,
        sqlite_path=SQLITE_PATH,
        conn_max_age=_conn_max_age,
        test_path=os.environ.get("SQLITE_TEST_PATH"),
        pooler=os.environ.get("DATABASE_POOLER", "").strip().lower(),
    )
}
# Read replicas (comma-separated PostgreSQL URLs): anonymous reads of public pages
# go to one of them, everything else to the primary (core/db_routers.py).
DATABASES.update(
    backends.replicas(urls=env_list("DATABASE_REPLICA_URL"), conn_max_age=_conn_max_age)
)
DATABASE_REPLICAS = [alias for alias in DATABASES if alias != "default"]
DATABASE_ROUTERS = ["core.db_routers.ReplicaRouter"] if DATABASE_REPLICAS else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# The site's own address of uploaded media (core/media.py): served from local disk,
# or redirecting to object storage.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))

# Uploaded images and their renditions: local disk (MEDIA_ROOT) is the embedded
# default; MEDIA_STORAGE=s3 keeps them in an S3-compatible bucket (django-storages),
# and pages fetch them from the bucket or AWS_S3_CUSTOM_DOMAIN. Credentials are
# boto3's own: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the environment, or
# an instance or task role; never settings. Addresses are unsigned (the images
# are public content, and signed ones would expire in cached pages and feeds), so
# the bucket or CDN must let anyone read objects.
MEDIA_STORAGE = os.environ.get("MEDIA_STORAGE", "").strip().lower() or "local"
STORAGES = {
    "default": backends.media_storage(MEDIA_STORAGE, os.environ),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Admin lists over big tables (core/admin_counts.py): a table of more rows than
# this shows its whole list's count from PostgreSQL's statistics ("about N") and a
# filtered list's counted up to ADMIN_COUNT_CAP ("10,000+"); the figures above a
# list (subscribers per status, the growth chart) are then shared through the
# cache for ADMIN_SUMMARY_SECONDS instead of counted on every page load.
ADMIN_COUNT_ESTIMATE_ABOVE = 50_000
ADMIN_COUNT_CAP = 10_000
ADMIN_SUMMARY_SECONDS = 120

# Uploads larger than this are refused before they reach Pillow.
MAX_IMAGE_UPLOAD_BYTES = 10 * 1024 * 1024
# The largest subscriber CSV staff may import (about 100,000 rows fit in far less).
MAX_IMPORT_BYTES = 20 * 1024 * 1024
# Pixel budget for one uploaded image; anything larger is treated as a
# decompression bomb (Pillow's own limit is higher and only warns below 2x).
MAX_IMAGE_PIXELS = 40_000_000
# Form fields without the files: Django's default, room for a long article body.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# Each source of an article is a row of about ten form fields: Django's default of
# 1,000 fields refused an article with more than about 95 sources. Public requests
# stay small through PUBLIC_REQUEST_MAX_BYTES.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Bodies larger than this are refused with a 413 before they are read, except from
# logged-in staff, whose limit follows the largest upload (skincare/middleware.py).
PUBLIC_REQUEST_MAX_BYTES = 64 * 1024
# Email providers' webhooks (newsletter/web/urls.py) may post up to
# DATA_UPLOAD_MAX_MEMORY_SIZE: a bounce report can carry the bounced message.
WEBHOOK_PATH_PREFIX = "/newsletter/webhooks/"
FILE_UPLOAD_PERMISSIONS = 0o644

LOGIN_URL = "admin:login"

# Password guessing (django-axes, with the limits of staff/sign_in_limits.py).
# Every failed sign-in is recorded per account, address and browser; two limits are
# counted from those records over the last hour (a record counts until an hour after
# its last failure): at most 10 password guesses at one account from any number of
# addresses, and at most 30 failed sign-ins from one IPv4 address or IPv6 /64 across
# accounts. Either locks the sign-in even for the right password; the account's
# owner still gets in with a passkey, or once with an emailed unlock link.
# A sign-in that works does not clear failures (axes' default), so guessing cannot
# be hidden between logins.
AUTHENTICATION_BACKENDS = [
    # First, before axes: a verified passkey cannot be guessed, so the guessing
    # limits do not apply to it (it is how a locked-out owner gets in).
    "django_otp_webauthn.backends.WebAuthnBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "staff.sign_in_limits.SignInLimitHandler"
STAFF_SIGN_IN_ACCOUNT_LIMIT = 10
STAFF_SIGN_IN_NETWORK_LIMIT = 30
# The handler answers how many of the two limits a request has used up; one is
# enough to lock.
AXES_FAILURE_LIMIT = 1
AXES_COOLOFF_TIME = timedelta(
    minutes=int(os.environ.get("DJANGO_LOGIN_COOLOFF_MINUTES", "60"))
)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "skincare.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The client's network: REMOTE_ADDR and nothing else (anyone can send
# X-Forwarded-For), an IPv6 address reduced to its /64 (a household or a server
# holds a whole /64 and can use any address in it), an IPv4-mapped one to IPv4.
AXES_CLIENT_IP_CALLABLE = "staff.sign_in_limits.client_network"
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_IPWARE_PROXY_COUNT = None
# Lockouts are logged (loggers "axes" and "staff.sign_in_limits", WARNING) with the
# account and the network, and stored (staff.SignInLockout) for the admin home;
# passwords never are.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# No start-up banner on every manage.py command, and log lines name only what a
# lockout is about (account and address), not every header axes can see.
AXES_VERBOSE = False
# How long an emailed unlock link works, and how many one account can be sent.
STAFF_UNLOCK_LINK_MAX_AGE = timedelta(hours=1)
STAFF_UNLOCK_LINKS_PER_HOUR = 3
# An invitation link to join the staff (staff/invitations.py) works once, this long.
STAFF_INVITATION_MAX_AGE = timedelta(days=7)
# Where a new account lands once made (after its second factor, when on): the
# articles app's last step, which asks writers and reviewers for the author
# profile readers see and sends everyone else on to the dashboard.
STAFF_INVITATION_LANDING = "admin:articles_author_mine"
# Unlock links asked for from one network per hour (whatever the accounts).
STAFF_UNLOCK_REQUESTS_PER_NETWORK = 10

# Second factor (staff/two_factor.py): every staff account gives one once per
# session before the admin opens: a passkey (django-otp-webauthn), a code from an
# authenticator app (TOTP, django-otp), or one of its ten backup codes. On in
# production posture, off with DJANGO_DEBUG=1 (`make run`); DJANGO_STAFF_TWO_FACTOR
# says otherwise either way.
STAFF_TWO_FACTOR = env_bool("DJANGO_STAFF_TWO_FACTOR", not DEBUG)
# Adding, replacing or removing a factor, or making new backup codes, needs a
# factor given in this session within this time.
STAFF_REVERIFY_MINUTES = 10
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = "Skincare"
# After n wrong codes in a row the next try waits 2**(n-1) seconds (django-otp).
OTP_TOTP_THROTTLE_FACTOR = 1
# The device admin never shows a secret or its QR code again: losing a phone means
# deleting the device, and its owner sets up a new one.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Security headers. Secure cookies, HSTS and the HTTPS redirect apply when the site
# is served over HTTPS (DJANGO_HTTPS=1), typically behind a proxy that terminates TLS.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    # Load balancers probe the site directly over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

SILENCED_SYSTEM_CHECKS = [*EDITOR_SILENCED_CHECKS]

# Content Security Policy for the public site: nothing loads from another host and
# no inline script or style runs.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The admin (and CKEditor inside it) needs inline styles, inline scripts in the
# upload dialog's response, data: images and same-origin frames.
ADMIN_CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", "'unsafe-inline'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "frame-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'self'"],
}

# Email. With EMAIL_HOST set, mail goes out over SMTP; otherwise development writes
# each message to a file in sent-emails/ and production prints it to the console.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", BASE_DIR / "sent-emails"))
# DKIM (core/dkim_signing.py): with a key, mail sent over SMTP is signed. The
# domain defaults to the From address's; core/checks.py refuses a key that cannot
# be used, or one set while mail would go out unsigned.
DKIM_PRIVATE_KEY_FILE = os.environ.get("DJANGO_DKIM_PRIVATE_KEY_FILE", "")
DKIM_PRIVATE_KEY = os.environ.get("DJANGO_DKIM_PRIVATE_KEY", "")
DKIM_SELECTOR = os.environ.get("DJANGO_DKIM_SELECTOR", "").strip()
DKIM_DOMAIN = os.environ.get("DJANGO_DKIM_DOMAIN", "").strip()
# DJANGO_EMAIL_PROVIDER sends through an email provider's API instead (django-anymail;
# docs/email.md, "Email providers"), and DJANGO_EMAIL_WEBHOOKS takes its reports of
# bounces and complaints; an unknown provider or a missing key stops the start.
_providers = email_providers.from_environment(os.environ)
ANYMAIL = _providers.anymail
# The providers whose tracking webhooks newsletter/web/urls.py answers.
EMAIL_WEBHOOK_PROVIDERS = _providers.webhooks
if _providers.backend:
    _default_email_backend = _providers.backend
elif EMAIL_HOST and (DKIM_PRIVATE_KEY_FILE or DKIM_PRIVATE_KEY):
    _default_email_backend = "core.dkim_signing.EmailBackend"
elif EMAIL_HOST:
    _default_email_backend = "django.core.mail.backends.smtp.EmailBackend"
elif DEBUG:
    _default_email_backend = "django.core.mail.backends.filebased.EmailBackend"
else:
    _default_email_backend = "django.core.mail.backends.console.EmailBackend"
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", _default_email_backend)
DEFAULT_FROM_EMAIL = os.environ.get(
    "DJANGO_DEFAULT_FROM_EMAIL", "Skincare <news@localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("Admin", address) for address in env_list("DJANGO_ADMINS")]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # httpx logs every request of the source check at INFO: thousands a run.
    "loggers": {"httpx": {"level": "WARNING"}},
}

SITE_NAME = "Skincare"
# Absolute links in emails (confirm, unsubscribe, archive) start with this.
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/") or (
    f"https://{ALLOWED_HOSTS[0]}"
    if ALLOWED_HOSTS and not DEBUG
    else "http://127.0.0.1:8000"
)

# Passkeys (django-otp-webauthn) belong to the site's host name (the relying party
# ID) and are accepted only from its origin, both from SITE_URL: moving the site to
# another domain means staff make new passkeys. WebAuthn refuses an IP address as
# the ID, so a site on an address (`make run`: 127.0.0.1, or 0.0.0.0) uses
# localhost: open http://localhost:8000 there to use passkeys.
_site = urlsplit(SITE_URL)
try:
    ipaddress.ip_address(_site.hostname or "")
    _site_host = "localhost"
except ValueError:
    _site_host = _site.hostname or "localhost"
OTP_WEBAUTHN_RP_ID = _site_host
OTP_WEBAUTHN_RP_NAME = SITE_NAME
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    f"{_site.scheme}://{_site_host}" + (f":{_site.port}" if _site.port else "")
]

# Background work: django-tasks with its database backend (the worker is
# `manage.py db_worker`). Tasks live in the same database as the site.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# The health check (/health/) fails when a due task has waited longer than this:
# no worker is running, or all of them are stuck (core/health.py).
WORKER_MAX_WAIT = timedelta(
    minutes=int(os.environ.get("DJANGO_WORKER_MAX_WAIT_MINUTES", "10"))
)
# Each worker beats this often; one silent for WORKER_DEAD_AFTER_SECONDS is dead, and
# a live worker puts the tasks it was running back in the queue (core/workers.py).
WORKER_HEARTBEAT_SECONDS = float(
    os.environ.get("DJANGO_WORKER_HEARTBEAT_SECONDS", "10")
)
WORKER_DEAD_AFTER_SECONDS = float(
    os.environ.get("DJANGO_WORKER_DEAD_AFTER_SECONDS", "60")
)
# Called by every live worker after each beat: each queues work left with no task.
WORKER_RECOVERY = [
    "newsletter.recovery.resume_sends",
    "newsletter.recovery.queue_welcome_steps",
]

# Retention (core/retention.py, docs/operations.md "Retention"): each step deletes
# what is kept no longer, called as step(dry_run=...) and returning the rows it
# removed; run daily by the worker (manage.py apply_retention starts the chain).
RETENTION_STEPS = [
    "core.retention.forget_finished_tasks",
    "articles.editorial.retention.prune_revisions",
    "newsletter.subscribers.retention.expire_subscriber_events",
    "newsletter.delivery.rollup.roll_up_deliveries",
]
# Revisions: each article keeps its last ARTICLE_REVISIONS_KEEP, every revision
# younger than ARTICLE_REVISIONS_MIN_AGE_DAYS, and every one something names (the
# live and latest ones, approvals, workflow steps, corrections, preview links).
ARTICLE_REVISIONS_KEEP = max(1, int(os.environ.get("ARTICLE_REVISIONS_KEEP", "50")))
ARTICLE_REVISIONS_MIN_AGE_DAYS = max(
    0, int(os.environ.get("ARTICLE_REVISIONS_MIN_AGE_DAYS", "30"))
)
# Subscribers' operational history (confirmation emails sent, data exports and
# deletion links sent, pauses) older than this is deleted; records of consent and
# of leaving stay as long as the subscriber does.
NEWSLETTER_EVENTS_KEEP_DAYS = max(
    1, int(os.environ.get("NEWSLETTER_EVENTS_KEEP_DAYS", "365"))
)
# Results of background tasks finished longer ago than this are deleted.
TASK_RESULTS_KEEP_DAYS = max(1, int(os.environ.get("TASK_RESULTS_KEEP_DAYS", "30")))

# The weekly check of live articles' sources (articles/sources/, docs/operations.md
# "Source health"): at most one request per host at a time, this many seconds
# apart; each request gives up after SOURCE_CHECK_TIMEOUT seconds.
SOURCE_CHECK_HOST_DELAY = float(os.environ.get("SOURCE_CHECK_HOST_DELAY", "1"))
SOURCE_CHECK_TIMEOUT = float(os.environ.get("SOURCE_CHECK_TIMEOUT", "10"))
# Hosts asked at once (each still one request at a time).
SOURCE_CHECK_THREADS = int(os.environ.get("SOURCE_CHECK_THREADS", "4"))
# Named in the User-Agent of every request; DEFAULT_FROM_EMAIL's address if empty.
SOURCE_CHECK_CONTACT = os.environ.get("SOURCE_CHECK_CONTACT", "")
# Private, loopback and link-local addresses are never fetched unless this is on
# (the tests' fake server is on 127.0.0.1).
SOURCE_CHECK_ALLOW_PRIVATE = env_bool("SOURCE_CHECK_ALLOW_PRIVATE")
SOURCE_CHECK_DOI_RESOLVER = os.environ.get(
    "SOURCE_CHECK_DOI_RESOLVER", "https://doi.org/"
)
SOURCE_CHECK_CROSSREF_API = os.environ.get(
    "SOURCE_CHECK_CROSSREF_API", "https://api.crossref.org/works/"
)
SOURCE_CHECK_EUTILS_API = os.environ.get(
    "SOURCE_CHECK_EUTILS_API", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
)
# Days between two runs of the weekly chain.
SOURCE_CHECK_EVERY_DAYS = int(os.environ.get("SOURCE_CHECK_EVERY_DAYS", "7"))

# Cache: per-process memory by default; REDIS_URL shares it between processes, which
# the per-IP sign-up limit needs once the site runs more than one process. Public
# pages are cached under "pages" (core/pagecache.py): keyed by a version kept in the
# database, so they are exact with either backend; Redis shares them between
# processes and machines. The key prefix keeps sites (or staging and production)
# apart in one Redis.
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHE_KEY_PREFIX = os.environ.get("DJANGO_CACHE_KEY_PREFIX", "")
CACHES = backends.caches(redis_url=REDIS_URL, key_prefix=CACHE_KEY_PREFIX)

# The page cache (core/pagecache.py). DJANGO_PAGE_CACHE=0 renders every page (ETags,
# 304s and Cache-Control stay); off by default with DEBUG, where templates change
# under a running server. Pages of an old version are never read again; this is how
# long they take up room before they go.
PAGE_CACHE = env_bool("DJANGO_PAGE_CACHE", not DEBUG)
PAGE_CACHE_SECONDS = int(os.environ.get("DJANGO_PAGE_CACHE_SECONDS", "3600"))
# What CDNs and caching proxies are told (Cache-Control s-maxage and
# stale-while-revalidate); never past the next scheduled publish time.
PAGE_CACHE_SHARED_MAX_AGE = int(
    os.environ.get("DJANGO_PAGE_CACHE_SHARED_MAX_AGE", "300")
)
PAGE_CACHE_STALE_WHILE_REVALIDATE = int(
    os.environ.get("DJANGO_PAGE_CACHE_STALE_WHILE_REVALIDATE", "60")
)
# A function called with the absolute URLs of pages that changed, to purge them from
# a CDN ("package.module.function"); none by default (see docs/operations.md).
PAGE_CACHE_PURGE = os.environ.get("DJANGO_PAGE_CACHE_PURGE", "")
# The front proxy (deploy/nginx/skincare.conf): nginx addresses the site asks for
# changed pages again after each change (core/frontproxy.py), with the secret the
# proxy's configuration holds; both needed, none by default.
FRONT_PROXY_URLS = env_list("DJANGO_FRONT_PROXY_URLS")
FRONT_PROXY_REFRESH_SECRET = os.environ.get("DJANGO_FRONT_PROXY_REFRESH_SECRET", "")
# Where the front proxies connect from: their X-Real-IP header is the reader's
# address (core/client_address.py); anyone else's is ignored.
FRONT_PROXY_ADDRESSES = env_list("DJANGO_FRONT_PROXY_ADDRESSES")
# Pages refreshed within the change itself; the rest (deep page numbers of lists)
# by a background task.
FRONT_PROXY_REFRESH_AT_ONCE = int(
    os.environ.get("DJANGO_FRONT_PROXY_REFRESH_AT_ONCE", "50")
)
FRONT_PROXY_REFRESH_CONCURRENCY = int(
    os.environ.get("DJANGO_FRONT_PROXY_REFRESH_CONCURRENCY", "4")
)
FRONT_PROXY_REFRESH_TIMEOUT = float(
    os.environ.get("DJANGO_FRONT_PROXY_REFRESH_TIMEOUT", "10")
)

# Addresses per sitemap file (core/sitemaps.py): /sitemap.xml is an index of
# files of at most this many (the protocol allows 50,000); fewer keep each file
# quick to make uncached.
SITEMAP_PAGE_SIZE = 10_000

# Readership counts (articles/readership/, docs/operations.md#readership): the
# article page's counting script, and the flood limits on the beacons it posts.
READERSHIP_COUNTING = env_bool("DJANGO_READERSHIP_COUNTING", True)
READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE = int(
    os.environ.get("DJANGO_READERSHIP_VIEWS_PER_ARTICLE_PER_MINUTE", "600")
)
READERSHIP_VIEWS_PER_MINUTE = int(
    os.environ.get("DJANGO_READERSHIP_VIEWS_PER_MINUTE", "6000")
)
# Views are counted in each process and written together this often (seconds;
# 0 writes each view at once).
READERSHIP_FLUSH_SECONDS = float(
    os.environ.get("DJANGO_READERSHIP_FLUSH_SECONDS", "10")
)
# Search insight (articles/search/insight.py): how many days of search counts are
# kept; older ones are deleted daily (manage.py forget_old_searches).
SEARCH_INSIGHT_RETENTION_DAYS = max(
    1, int(os.environ.get("SEARCH_INSIGHT_RETENTION_DAYS", "90"))
)
# Searches are counted in each process and written together this often (seconds;
# 0 writes each search at once).
SEARCH_INSIGHT_FLUSH_SECONDS = float(
    os.environ.get("SEARCH_INSIGHT_FLUSH_SECONDS", "10")
)

# Newsletter sending and abuse limits (docs/operations.md explains each).
NEWSLETTER_BATCH_SIZE = int(os.environ.get("NEWSLETTER_BATCH_SIZE", "100"))
NEWSLETTER_RATE_PER_SECOND = float(os.environ.get("NEWSLETTER_RATE_PER_SECOND", "0"))
NEWSLETTER_WORKERS_PER_SEND = int(os.environ.get("NEWSLETTER_WORKERS_PER_SEND", "1"))
NEWSLETTER_CLAIM_LEASE_SECONDS = int(
    os.environ.get("NEWSLETTER_CLAIM_LEASE_SECONDS", "300")
)
NEWSLETTER_MAX_ATTEMPTS = int(os.environ.get("NEWSLETTER_MAX_ATTEMPTS", "5"))
NEWSLETTER_RETRY_BASE_SECONDS = int(
    os.environ.get("NEWSLETTER_RETRY_BASE_SECONDS", "60")
)
NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR = int(
    os.environ.get("NEWSLETTER_SIGNUPS_PER_IP_PER_HOUR", "10")
)
NEWSLETTER_CONFIRMATIONS_PER_DAY = 3
NEWSLETTER_CONFIRM_MAX_AGE_DAYS = 7
NEWSLETTER_DELETE_LINK_MAX_AGE_HOURS = 24
NEWSLETTER_PRUNE_PENDING_DAYS = 30
# An issue sent more than this many days ago keeps its counts (IssueStats), its
# link clicks and its bounce, complaint and unsubscribe reports, but no longer one
# row per recipient (newsletter/delivery/rollup.py, a retention step).
NEWSLETTER_DELIVERY_ROLLUP_DAYS = max(
    30, int(os.environ.get("NEWSLETTER_DELIVERY_ROLLUP_DAYS", "400"))
)
