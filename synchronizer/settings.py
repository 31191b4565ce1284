"""Settings for Synchronizer: one module, driven by environment variables.

Every value comes from the environment (or a `.env` file beside manage.py); see
`.env.example` for the full list. Development defaults only apply when DEBUG is on:
with DEBUG off, every secret must be set explicitly.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Lets classes such as ModelAdmin be subscripted with their model for type checking.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)


def _secret(name: str, *, debug_default: str) -> str:
    """A secret from the environment; only DEBUG may fall back to a development value."""
    value: str = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return debug_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see .env.example).")


# --- Core -----------------------------------------------------------------------------

SECRET_KEY = _secret("SECRET_KEY", debug_default="dev-only-insecure-secret-key-change-me")
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "profiles",
    "profiles.superoffice",
    "preferences",
    "syncengine",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "synchronizer.urls"
WSGI_APPLICATION = "synchronizer.wsgi.application"
ASGI_APPLICATION = "synchronizer.asgi.application"

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

AUTH_USER_MODEL = "profiles.User"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Database ---------------------------------------------------------------------------
# SQLite by default (WAL, so a worker process can write beside the web process);
# PostgreSQL in production through DATABASE_URL.

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not memory: tests that start a real worker process need to open it too.
    # One per test session, so concurrent sessions on one machine never share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"synchronizer-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Redis, cache and Celery -----------------------------------------------------------------
# Settings never start a server: scripts/demo and scripts/test start an embedded
# redis-server (synchronizer.embedded_redis) and export REDIS_URL to every process.

REDIS_URL: str = env.str("REDIS_URL", default="")
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is not set. Point it at your Redis, or start through scripts/demo or "
        "scripts/test, which run an embedded Redis and set it for you."
    )

# Every key we keep in Redis starts with this, so services sharing one Redis stay apart.
REDIS_KEY_PREFIX: str = env.str("REDIS_KEY_PREFIX", default="synchronizer")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
    }
}

# The longest sync run we plan for (10,000 cards into a slow CardDAV server) takes well
# under half an hour; the hard limit stops a stuck run, and the broker's visibility
# timeout stays above it so a task is only redelivered once its worker is truly gone.
SYNC_RUN_SOFT_TIME_LIMIT = env.int("SYNC_RUN_SOFT_TIME_LIMIT", default=30 * 60)
SYNC_RUN_TIME_LIMIT = env.int("SYNC_RUN_TIME_LIMIT", default=35 * 60)
# How long a run's lock outlives a worker that stopped renewing it (a dead worker's user
# waits this long before another worker resumes the run); renewed every third of it.
SYNC_RUN_LOCK_SECONDS = env.int("SYNC_RUN_LOCK_SECONDS", default=30)

# Finished runs older than this are pruned daily (each user's latest run always stays).
RUN_RETENTION_DAYS = env.int("RUN_RETENTION_DAYS", default=30)

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
    "visibility_timeout": env.int(
        "CELERY_VISIBILITY_TIMEOUT", default=SYNC_RUN_TIME_LIMIT + 15 * 60
    ),
}
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# Runs record their own outcome in SyncRun rows; task results are never read.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = SYNC_RUN_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = SYNC_RUN_TIME_LIMIT
# Tasks are idempotent, so a task is acknowledged only when it is done and is
# handed to another worker when its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True

# --- Encryption at rest ---------------------------------------------------------------------
# Fernet keys, newest first. Add a new key in front, run `manage.py rotate_encryption_keys`,
# then drop the old key.

FIELD_ENCRYPTION_KEYS: list[str] = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off (see .env.example for how "
            "to create a key)."
        )
    FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    ]

# --- SuperOffice ------------------------------------------------------------------------------
# SUPEROFFICE_ENVIRONMENT: sod, stage or online, or the base URL of a SuperID-like server
# (the sandbox: http://127.0.0.1:8001).

SUPEROFFICE_ENVIRONMENT: str = env.str(
    "SUPEROFFICE_ENVIRONMENT", default="http://127.0.0.1:8001" if DEBUG else "online"
)
SUPEROFFICE_CLIENT_ID = _secret("SUPEROFFICE_CLIENT_ID", debug_default="synchronizer-demo")
SUPEROFFICE_CLIENT_SECRET = _secret(
    "SUPEROFFICE_CLIENT_SECRET", debug_default="synchronizer-demo-secret"
)
# SuperOffice allows 10 requests per second per tenant; the budget is shared by every
# worker through Redis. 0 lifts it (benchmarks only).
SUPEROFFICE_MAX_REQUESTS_PER_SECOND = env.int("SUPEROFFICE_MAX_REQUESTS_PER_SECOND", default=10)
SUPEROFFICE_MAX_ATTEMPTS = env.int("SUPEROFFICE_MAX_ATTEMPTS", default=5)
SUPEROFFICE_BACKOFF_BASE_SECONDS = env.float("SUPEROFFICE_BACKOFF_BASE_SECONDS", default=0.5)
SUPEROFFICE_BACKOFF_CAP_SECONDS = env.float("SUPEROFFICE_BACKOFF_CAP_SECONDS", default=30.0)

# --- Microsoft 365 (Microsoft Graph) ---------------------------------------------------------
# The app registration the product uses for every organisation (README: "Connecting
# Microsoft 365"). Empty outside DEBUG means Microsoft 365 is not offered. The endpoints
# default to Microsoft's own; tests and the demo point them at the local stand-in.

MICROSOFT_CLIENT_ID: str = env.str(
    "MICROSOFT_CLIENT_ID", default="synchronizer-demo-graph" if DEBUG else ""
)
MICROSOFT_CLIENT_SECRET: str = env.str(
    "MICROSOFT_CLIENT_SECRET", default="synchronizer-demo-graph-secret" if DEBUG else ""
)
MICROSOFT_LOGIN_URL: str = env.str(
    "MICROSOFT_LOGIN_URL", default="https://login.microsoftonline.com"
).rstrip("/")
MICROSOFT_GRAPH_URL: str = env.str(
    "MICROSOFT_GRAPH_URL", default="https://graph.microsoft.com"
).rstrip("/")
# A CA bundle to trust for the Microsoft endpoints instead of the system's (the local
# stand-in's own certificate); empty: the system's trust store.
MICROSOFT_CA_BUNDLE: str = env.str("MICROSOFT_CA_BUNDLE", default="")
# Outlook's published limits per app and mailbox: 10,000 requests per 10 minutes and 4
# concurrent requests. The budget is shared by every worker through Redis.
MICROSOFT_MAILBOX_BUDGET: int = env.int("MICROSOFT_MAILBOX_BUDGET", default=10_000)
MICROSOFT_MAILBOX_BUDGET_WINDOW_SECONDS: int = env.int(
    "MICROSOFT_MAILBOX_BUDGET_WINDOW_SECONDS", default=600
)
MICROSOFT_MAILBOX_CONCURRENCY: int = env.int("MICROSOFT_MAILBOX_CONCURRENCY", default=4)

# --- Sign-in (django-allauth) ---------------------------------------------------------------

# People sign in with SuperOffice only; staff operators use the Django admin's login.

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "profiles.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "profiles.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# The same e-mail can belong to associates of several tenants.
ACCOUNT_UNIQUE_EMAIL = False
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
# Tokens are kept in our own encrypted table, not in allauth's plain-text one.
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_PROVIDERS = {
    "superoffice": {
        "APPS": [
            {
                "client_id": SUPEROFFICE_CLIENT_ID,
                "secret": SUPEROFFICE_CLIENT_SECRET,
                "settings": {"token_auth_method": "client_secret_post"},
            }
        ],
        "OAUTH_PKCE_ENABLED": True,
    }
}

# --- Security ---------------------------------------------------------------------------------

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS: list[str] = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# --- Operations ------------------------------------------------------------------------------

# Bearer token Prometheus sends to /metrics/; unset, the endpoint is open (keep it on an
# internal network then).
METRICS_TOKEN: str = env.str("METRICS_TOKEN", default="")
# Where operators find Flower (the workers' own view), linked from the operator console.
FLOWER_URL: str = env.str("FLOWER_URL", default="http://127.0.0.1:5555/")

# --- Logging ------------------------------------------------------------------------------------

LOG_LEVEL: str = env.str("LOG_LEVEL", default="INFO")
# json: one JSON object a line, for a log pipeline; plain: for people at a terminal.
LOG_FORMAT: str = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"run_context": {"()": "synchronizer.logcontext.RunContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["run_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
