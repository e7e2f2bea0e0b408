"""Settings: one file, read from environment variables.

With no variables set this is the embedded default (SQLite, local-memory cache,
in-memory channel layer, Celery over kombu's filesystem transport), so a clone
runs with no services. Production sets DATABASE_URL, REDIS_URL, CELERY_BROKER_URL,
SECRET_KEY and DEBUG=0; docker/.env.example documents every variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PZ_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# The public base URL of this service, used in the script tag shown to merchants.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "personalize.shops",
    "personalize.catalog",
    "personalize.events",
    "personalize.recommend",
    "personalize.campaigns",
    "personalize.analytics",
    "personalize.dashboard",
    "personalize.demo",
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
    # last, as django-axes asks: it turns a locked-out login into its 429 page
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "personalize.urls"
WSGI_APPLICATION = "personalize.wsgi.application"
ASGI_APPLICATION = "personalize.asgi.application"

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

# --- database -----------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=600, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statements run on psycopg's server-side binding cursors (the collect path's insert) are
    # prepared after 5 runs on a connection: planning that insert cost as much as running it.
    # Django's own queries bind on the client and are never prepared. 0 disables it (for PgBouncer
    # in transaction mode before 1.21, which cannot keep prepared statements).
    DATABASES["default"]["OPTIONS"] = {
        "prepare_threshold": int(os.environ.get("DATABASE_PREPARE_THRESHOLD", "5")) or None
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so the real Celery worker in the tests can open the same test database;
    # one per test run, so parallel runs do not collide.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, channels ----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "pz"),
            # redis-py waits forever by default: a hung Redis would hold every web worker. With a
            # bound, the paths that can do without the cache (collect) go on (lib/cache.py).
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pz"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery" / "queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery" / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
        # Broadcast (remote control) messages; kombu's default is ./control in the working directory.
        "control_folder": str(VAR_DIR / "celery" / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# A task whose worker dies is delivered again rather than lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Each shop is trained when its data moved on (see recommend.tasks.schedule_trainings).
    "schedule-trainings": {"task": "personalize.recommend.tasks.schedule_trainings", "schedule": 15 * 60},
    # The ROI dashboard's rollups of today and yesterday (see analytics.tasks).
    "refresh-analytics-rollups": {
        "task": "personalize.analytics.tasks.refresh_recent_rollups",
        "schedule": 5 * 60,
    },
    # Shops that keep events for a limited time (see events.retention); 03:10 UTC, a quiet hour.
    "enforce-event-retention": {
        "task": "personalize.events.tasks.enforce_retention",
        "schedule": crontab(hour=3, minute=10),
    },
}
CELERY_TIMEZONE = "UTC"

# --- auth, sessions, security -------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/login/"
# Login brute-force protection (django-axes, attempts kept in the database): 10 failures for one
# account from one address pause that pair for 15 minutes; a success clears the count. Per pair, so
# an attacker elsewhere cannot lock a merchant out of their own account.
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # no row per successful login
AXES_VERBOSE = False  # no banner on every manage.py command and process start
AXES_USERNAME_CALLABLE = "personalize.dashboard.login_guard.login_username"
AXES_CLIENT_IP_CALLABLE = "personalize.dashboard.login_guard.client_ip"
AXES_LOCKOUT_CALLABLE = "personalize.dashboard.login_guard.locked_out"
# Reverse proxies in front of the web processes that append to X-Forwarded-For (0: none, use the peer).
PZ_PROXY_COUNT = int(os.environ.get("PZ_PROXY_COUNT", "0"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Probes are plain HTTP from the load balancer.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- email (dashboard invitations) ---------------------------------------------------------
# Development prints mail on the console; production sends through an SMTP relay.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Personalize <noreply@localhost>")

# --- i18n, static, media ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# In development static files come straight from the apps; production serves collectstatic output.
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [BASE_DIR / "widgets_js" / "dist"] if (BASE_DIR / "widgets_js" / "dist").is_dir() else []
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
# Feed uploads can be large; they are streamed to disk, not held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["personalize.shops.authentication.SecretKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["personalize.shops.authentication.HasShop"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Personalize API",
    "DESCRIPTION": "Events, catalog, orders, recommendations, snippet config and privacy endpoints of one shop.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- product limits -----------------------------------------------------------------------
PZ_COLLECT_MAX_EVENTS = 100
PZ_COLLECT_MAX_BYTES = 512 * 1024
PZ_PROPERTIES_MAX_BYTES = 4 * 1024
PZ_SESSION_IDLE_SECONDS = 30 * 60
# Client clocks drift; an event more than this far ahead of server time is rejected.
PZ_MAX_CLOCK_SKEW_SECONDS = 24 * 3600
PZ_PRODUCTS_MAX_PER_CALL = 1000
# Trained model versions (numpy arrays), one folder per shop; a shared volume when workers and web differ.
PZ_MODEL_DIR = Path(os.environ.get("PZ_MODEL_DIR", VAR_DIR / "models"))
PZ_FEED_MAX_BYTES = int(os.environ.get("PZ_FEED_MAX_BYTES", str(1024**3)))
PZ_FEED_FETCH_TIMEOUT = int(os.environ.get("PZ_FEED_FETCH_TIMEOUT", "30"))
# Feed URLs on loopback/private addresses are refused in production (a merchant could otherwise
# make the server fetch internal services); the import_feed command, run by the operator, may.
PZ_FEED_ALLOW_PRIVATE_HOSTS = env_bool("PZ_FEED_ALLOW_PRIVATE_HOSTS", DEBUG)
# How long a web process trusts its copy of a site key's shop (allowed domains, rate limit).
PZ_SITE_KEY_CACHE_SECONDS = int(os.environ.get("PZ_SITE_KEY_CACHE_SECONDS", "30"))
# The snippet build served at /p.js and /p/<chunk>.js (widgets_js writes it; `make install` builds it).
SNIPPET_DIR = BASE_DIR / "widgets_js" / "dist"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
