"""All settings of the portal, read from the environment (see the README's configuration table)."""
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from insportal.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-only-key"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "simple_history",
    "django_celery_beat",
    "axes",
    "identities",
    "insi",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "insportal.urls"
WSGI_APPLICATION = "insportal.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database: PostgreSQL in production and CI, an SQLite file as the embedded default ---
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and security ---
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Language: French first, English available ---
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Audit history (django-simple-history) ---
# Reverting from the admin would bypass the state machine and the locking rules.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Celery (Redis broker in production and CI) ---
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
if CELERY_BROKER_URL == "filesystem://":
    # Embedded demo broker: messages are files under var/celery, no Redis needed.
    _CELERY_DIR = BASE_DIR / "var" / "celery"
    for _folder in ("queue", "processed"):
        (_CELERY_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_DIR / "queue"),
        "data_folder_out": str(_CELERY_DIR / "queue"),
        "processed_folder": str(_CELERY_DIR / "processed"),
        "store_processed": False,
    }

# --- INS environment: test OIDs and production OIDs never mix ---
INS_ENVIRONMENT = env_str("INS_ENVIRONMENT", "test")
if INS_ENVIRONMENT not in {"test", "production"}:
    raise ImproperlyConfigured("INS_ENVIRONMENT must be 'test' or 'production'")

# --- INSi teleservice (insi/) ---
# Interface description: the project's own WSDL, or the official package's file.
INSI_WSDL = env_str("INSI_WSDL", str(BASE_DIR / "insi" / "wsdl" / "ServiceIdentiteCertifiee-v1.wsdl"))
INSI_ENDPOINT = env_str("INSI_ENDPOINT", "http://127.0.0.1:8000/insi-simulator/lps")
# Demo identifiers work only against the simulator: production must name its own.
_INSI_DEMO = INS_ENVIRONMENT != "production"
INSI_IDAM = env_str("INSI_IDAM", "INSPORTAL-DEMO" if _INSI_DEMO else "")  # CNDA authorisation number
INSI_INSTANCE_ID = env_str("INSI_INSTANCE_ID", "5f0c3c1e-7d1a-4f43-9a4e-2a1d0c0f1e55" if _INSI_DEMO else "")
if not (INSI_IDAM and INSI_INSTANCE_ID):
    raise ImproperlyConfigured("INSI_IDAM and INSI_INSTANCE_ID must be set when INS_ENVIRONMENT is production")
INSI_LPS_NAME = env_str("INSI_LPS_NAME", "INSPORTAL")
INSI_LPS_VERSION = env_str("INSI_LPS_VERSION", "0.1.0")
INSI_EMITTER = env_str("INSI_EMITTER", "INSPORTAL-DEMO")  # the structure id, the certificate's OU
# Client certificates (CN INSI-MANU for user-triggered calls, INSI-AUTO for automatic ones):
# a PKCS#12 file (.p12/.pfx) with its password, or a PEM certificate with its key
# (INSI_*_KEY empty when the key is in the certificate file) and the key's password.
INSI_MANU_CERT = env_str("INSI_MANU_CERT")
INSI_MANU_KEY = env_str("INSI_MANU_KEY")
INSI_MANU_PASSWORD = env_str("INSI_MANU_PASSWORD")
INSI_AUTO_CERT = env_str("INSI_AUTO_CERT")
INSI_AUTO_KEY = env_str("INSI_AUTO_KEY")
INSI_AUTO_PASSWORD = env_str("INSI_AUTO_PASSWORD")
INSI_CA_BUNDLE = env_str("INSI_CA_BUNDLE")  # CA file that signs the service's certificate; empty: system CAs
INSI_TIMEOUT = env_float("INSI_TIMEOUT", 10.0)  # seconds per HTTP call
INSI_RETRY_ATTEMPTS = env_int("INSI_RETRY_ATTEMPTS", 3)  # attempts per call, technical failures only
INSI_RETRY_BACKOFF = env_float("INSI_RETRY_BACKOFF", 1.0)  # seconds before the 2nd attempt, doubled after
INSI_EXCHANGE_BODY_RETENTION_DAYS = env_int("INSI_EXCHANGE_BODY_RETENTION_DAYS", 90)
# The simulator answers at /insi-simulator/lps; never in production.
INSI_SIMULATOR_ENABLED = env_bool("INSI_SIMULATOR_ENABLED", _INSI_DEMO)
INSI_SIMULATOR_IDAM = env_str("INSI_SIMULATOR_IDAM", INSI_IDAM)
INSI_SIMULATOR_PLATFORM_QUIRKS = env_bool("INSI_SIMULATOR_PLATFORM_QUIRKS", False)
INSI_SIMULATOR_HISTO_OUT_OF_ORDER = env_bool("INSI_SIMULATOR_HISTO_OUT_OF_ORDER", False)
INSI_SIMULATOR_LATENCY = env_float("INSI_SIMULATOR_LATENCY", 0.0)  # seconds added to every answer
INSI_SIMULATOR_FAILURE_RATE = env_float("INSI_SIMULATOR_FAILURE_RATE", 0.0)  # fraction of calls that fail
INSI_SIMULATOR_FAILURE_KINDS = env_list("INSI_SIMULATOR_FAILURE_KINDS", "fault,http500,timeout,malformed")
INSI_SIMULATOR_GENERATED_COUNT = env_int("INSI_SIMULATOR_GENERATED_COUNT", 1_000_000)
if INSI_SIMULATOR_ENABLED:
    # The client reaches the portal's own simulator over loopback HTTP (INSI_ENDPOINT's default).
    SECURE_REDIRECT_EXEMPT = [r"^insi-simulator/"]

# --- Logging: no personal data is ever logged, only identifiers and outcomes ---
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"zeep": {"level": "WARNING"}},
}
