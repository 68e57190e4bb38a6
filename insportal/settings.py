"""All settings of the portal, read from the environment (see the README's configuration table)."""
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from insportal.env import env_bool, env_float, env_int, env_list, env_str
from insportal.logs import logging_config

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
    "identities.portal.site.PortalAdminConfig",  # django.contrib.admin with the portal's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "simple_history",
    "django_celery_beat",
    "axes",
    "mozilla_django_oidc",
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
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "insportal.urls"
WSGI_APPLICATION = "insportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The site-wide frame (templates/), then each capability's own templates.
        "DIRS": [BASE_DIR / "templates", *(BASE_DIR / "identities" / name / "templates" for name in ("portal", "workflows", "documents", "merge", "matching"))],
        "APP_DIRS": True,
        "OPTIONS": {
            "libraries": {"insi_workflows": "identities.workflows.templatetags"},
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
# AUTHENTICATION_BACKENDS, throttling (axes) and CSP: see the "Access" block at the end.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
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
# A cold shutdown (SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT as the demo starts it) gives
# running tasks this long, then stops them: their work is transactional and resumed at start.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env_float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", 2.0)
if CELERY_BROKER_URL == "filesystem://":
    # Embedded demo broker: messages are files under var/celery (or CELERY_FILESYSTEM_DIR), no Redis needed.
    _CELERY_DIR = Path(env_str("CELERY_FILESYSTEM_DIR", str(BASE_DIR / "var" / "celery")))
    for _folder in ("queue", "processed", "control"):
        (_CELERY_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_CELERY_DIR / "queue"),
        "data_folder_out": str(_CELERY_DIR / "queue"),
        "processed_folder": str(_CELERY_DIR / "processed"),
        "control_folder": str(_CELERY_DIR / "control"),
        "store_processed": False,
        # Looked at every 0.2 s rather than every second: a stopping worker notices sooner.
        "polling_interval": 0.2,
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
# The simulator answers at /insi-simulator/lps; off by default in production.
INSI_SIMULATOR_ENABLED = env_bool("INSI_SIMULATOR_ENABLED", _INSI_DEMO)
INSI_SIMULATOR_IDAM = env_str("INSI_SIMULATOR_IDAM", INSI_IDAM)
INSI_SIMULATOR_PLATFORM_QUIRKS = env_bool("INSI_SIMULATOR_PLATFORM_QUIRKS", False)
INSI_SIMULATOR_HISTO_OUT_OF_ORDER = env_bool("INSI_SIMULATOR_HISTO_OUT_OF_ORDER", False)
INSI_SIMULATOR_LATENCY = env_float("INSI_SIMULATOR_LATENCY", 0.0)  # seconds added to every answer
INSI_SIMULATOR_FAILURE_RATE = env_float("INSI_SIMULATOR_FAILURE_RATE", 0.0)  # fraction of calls that fail
INSI_SIMULATOR_FAILURE_KINDS = env_list("INSI_SIMULATOR_FAILURE_KINDS", "fault,http500,timeout,malformed")
INSI_SIMULATOR_GENERATED_COUNT = env_int("INSI_SIMULATOR_GENERATED_COUNT", 1_000_000)
# The Appli carte Vitale service the desk's reader exchanges a scanned QR token with (identities/workflows/apcv.py).
APCV_ENDPOINT = env_str("APCV_ENDPOINT", "http://127.0.0.1:8000/insi-simulator/apcv" if INSI_SIMULATOR_ENABLED else "")
APCV_TIMEOUT = env_float("APCV_TIMEOUT", 5.0)
if INSI_SIMULATOR_ENABLED and INS_ENVIRONMENT == "production":
    # A simulator in production would answer in the national service's place.
    raise ImproperlyConfigured("INSI_SIMULATOR_ENABLED cannot be on when INS_ENVIRONMENT is production")
if INSI_SIMULATOR_ENABLED:
    # The client reaches the portal's own simulator over loopback HTTP (INSI_ENDPOINT's default).
    SECURE_REDIRECT_EXEMPT = [r"^insi-simulator/"]

# --- Interoperability: HL7 v2 PAM-FR over MLLP, FHIR FR Core API, CDA (identities/interop) ---
INTEROP_APPLICATION = env_str("INTEROP_APPLICATION", "INSPORTAL")  # MSH-3, our HL7 application name
INTEROP_FACILITY = env_str("INTEROP_FACILITY", "INSPORTAL")  # MSH-4, our facility
# The IPP, the short permanent number staff read and other systems receive (identities/core/ipp.py):
# this prefix (1 to 4 capital letters, the facility's choice, set once at deployment), a sequence
# number and a Luhn check digit. Changing it later gives the new prefix to new identities only.
IPP_PREFIX = env_str("IPP_PREFIX", "IP")
if not re.fullmatch(r"[A-Z]{1,4}", IPP_PREFIX):
    raise ImproperlyConfigured("IPP_PREFIX must be 1 to 4 capital letters A-Z")
INTEROP_IPP_NAMESPACE = env_str("INTEROP_IPP_NAMESPACE", "INSPORTAL")  # HL7 authority of the permanent identifier
# OID of the facility's permanent identifier (IPP). The default is a UUID-derived OID (2.25)
# that no other system uses: production sets the facility's registered OID.
INTEROP_IPP_OID = env_str("INTEROP_IPP_OID", "2.25.77006110419845991969835873907240068842")
INTEROP_HL7_PROCESSING_ID = env_str("INTEROP_HL7_PROCESSING_ID", "P")  # MSH-11: P production, T training, D debugging
MLLP_LISTEN_HOST = env_str("MLLP_LISTEN_HOST", "127.0.0.1")
MLLP_LISTEN_PORT = env_int("MLLP_LISTEN_PORT", 2575)
# Dotted path of the INSi check of an INS received from another domain (identities/reception.py);
# empty: such an INS waits on its received message, never integrated unverified.
INS_RECEPTION_VERIFIER = env_str("INS_RECEPTION_VERIFIER", "identities.workflows.ins_integration.verify_received_ins")
FHIR_PAGE_SIZE = env_int("FHIR_PAGE_SIZE", 20)
FHIR_MAX_PAGE_SIZE = env_int("FHIR_MAX_PAGE_SIZE", 100)
# The deepest _offset a search is paged to (FHIR lets a server limit paging): a search reads at
# most _offset + _count rows of an index, so every page answers in the same time (docs/interop.md).
FHIR_MAX_OFFSET = env_int("FHIR_MAX_OFFSET", 1000)

# --- Labels (identities/documents) ---
# A label print of more labels than this is a background job (Celery): progress page, PDF kept for download.
# 48 = two A4 sheets of 24, about a second of rendering; smaller prints stay in the request.
LABEL_JOB_ABOVE = env_int("LABEL_JOB_ABOVE", 48)
LABEL_JOB_CHUNK_PAGES = env_int("LABEL_JOB_CHUNK_PAGES", 4)  # sheets laid out between two progress updates
LABEL_JOB_RETENTION_HOURS = env_int("LABEL_JOB_RETENTION_HOURS", 24)  # then the beat purge drops the job's PDF
# A running job with no sheet laid out for this long lost its worker: its page offers to retry it.
LABEL_JOB_STALLED_MINUTES = env_int("LABEL_JOB_STALLED_MINUTES", 10)

# --- Duplicate matching (identities/matching) ---
# Parts of the nightly sweep (hash ranges of blocking keys), queued for the workers to take in parallel.
MATCHING_SWEEP_PARTS = env_int("MATCHING_SWEEP_PARTS", 4)
# Below this many identities the sweep does not learn its own m/u (EM needs many pairs): it keeps the last model.
MATCHING_ESTIMATE_FROM = env_int("MATCHING_ESTIMATE_FROM", 5000)

# --- INSi workflows: recovery, verification, campaigns (identities/workflows) ---
# Similarity rate (0-100 %) from which a recovery result feeds the identity without a click; 0: never (default).
INSI_AUTO_FEED_THRESHOLD = env_float("INSI_AUTO_FEED_THRESHOLD", 0.0)
# Redis holding the pace of INSi calls shared by every worker; default: the broker's Redis. Empty (no Redis,
# as in the embedded demo): each worker process paces itself.
INSI_PACE_REDIS_URL = env_str("INSI_PACE_REDIS_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")
INSI_BATCH_CALLS_PER_SECOND = env_float("INSI_BATCH_CALLS_PER_SECOND", 2.0)  # recovery batches (per facility)
# Recovery stays unitary (ANS guide): a batch is an explicit selection of at most this many identities,
# searched one after the other; never the whole base or an import (verification campaigns are the mass calls).
INSI_RECOVERY_BATCH_MAX = env_int("INSI_RECOVERY_BATCH_MAX", 50)
INSI_RUN_PARALLELISM = env_int("INSI_RUN_PARALLELISM", 4)  # work slices queued per run (one per worker process used)
INSI_RUN_SLICE_SECONDS = env_float("INSI_RUN_SLICE_SECONDS", 30.0)  # a slice re-queues itself after this long
INSI_RUN_MAX_ATTEMPTS = env_int("INSI_RUN_MAX_ATTEMPTS", 3)  # per identity, technical failures only
INSI_RUN_RETRY_BACKOFF = env_float("INSI_RUN_RETRY_BACKOFF", 60.0)  # seconds before an identity's 2nd attempt, doubled after
INSI_PRE_ADMISSION_LEAD_HOURS = env_int("INSI_PRE_ADMISSION_LEAD_HOURS", 48)  # verify this long before a planned admission
INSI_KO_ALERT_EMAILS = env_list("INSI_KO_ALERT_EMAILS")  # CIV addresses told of verification KOs; empty: no e-mail
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "insportal@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
# One queue name per deployment (tests give each run its own, so parallel runs never take each other's tasks).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")

# --- Logging: no personal data is ever logged, only identifiers and outcomes ---
# One configuration for every process (insportal/logs.py): exceptions without their text, access
# lines without their query string, uncaught exceptions logged the same way. Celery workers and
# beat (insportal/celery.py) and gunicorn (insportal/gunicorn.conf.py) use it too.
LOGGING_CONFIG = "insportal.logs.configure"
LOGGING = logging_config(env_str("LOG_LEVEL", "INFO"))


# ======================================================================================
# --- Access: sign-in, throttling, Content-Security-Policy (issue 15; README "Access") ---
# One block of its own: the logging and process settings live above.

# Sign-in. Local accounts (demo, break-glass administrators) always work; the hospital's
# directory is added by LDAP_SERVER_URI (LDAP / Active Directory) and OIDC_RP_CLIENT_ID
# (OpenID Connect). Directory groups are mapped to the portal's roles in the admin
# ("Groupes de l'annuaire"); a directory account's roles are set again at every sign-in.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend"]

LDAP_SERVER_URI = env_str("LDAP_SERVER_URI")  # ldap://… or ldaps://…; empty: no LDAP sign-in
if LDAP_SERVER_URI:
    import ldap
    from django_auth_ldap.config import (
        GroupOfNamesType,
        LDAPSearch,
        NestedActiveDirectoryGroupType,
    )

    AUTH_LDAP_SERVER_URI = LDAP_SERVER_URI
    AUTH_LDAP_BIND_DN = env_str("LDAP_BIND_DN")  # the service account that searches users; empty: anonymous
    AUTH_LDAP_BIND_PASSWORD = env_str("LDAP_BIND_PASSWORD")  # or LDAP_BIND_PASSWORD_FILE
    AUTH_LDAP_START_TLS = env_bool("LDAP_START_TLS", False)
    AUTH_LDAP_CONNECTION_OPTIONS = {ldap.OPT_REFERRALS: 0, ldap.OPT_NETWORK_TIMEOUT: env_int("LDAP_TIMEOUT", 5)}
    if env_str("LDAP_CA_FILE"):
        AUTH_LDAP_GLOBAL_OPTIONS = {ldap.OPT_X_TLS_CACERTFILE: env_str("LDAP_CA_FILE"), ldap.OPT_X_TLS_NEWCTX: 0}
    # Active Directory: LDAP_USER_FILTER=(sAMAccountName=%(user)s) and LDAP_GROUP_TYPE=activedirectory.
    AUTH_LDAP_USER_SEARCH = LDAPSearch(
        env_str("LDAP_USER_BASE_DN"), ldap.SCOPE_SUBTREE, env_str("LDAP_USER_FILTER", "(uid=%(user)s)")
    )
    _LDAP_ACTIVE_DIRECTORY = env_str("LDAP_GROUP_TYPE", "groupofnames") == "activedirectory"
    AUTH_LDAP_GROUP_SEARCH = LDAPSearch(
        env_str("LDAP_GROUP_BASE_DN", env_str("LDAP_USER_BASE_DN")), ldap.SCOPE_SUBTREE,
        "(objectClass=group)" if _LDAP_ACTIVE_DIRECTORY else "(objectClass=groupOfNames)",
    )
    AUTH_LDAP_GROUP_TYPE = NestedActiveDirectoryGroupType() if _LDAP_ACTIVE_DIRECTORY else GroupOfNamesType()
    AUTH_LDAP_USER_ATTR_MAP = {"first_name": "givenName", "last_name": "sn", "email": "mail"}
    AUTH_LDAP_ALWAYS_UPDATE_USER = True
    AUTHENTICATION_BACKENDS.append("identities.portal.directory.PortalLDAPBackend")

OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")  # empty: no OpenID Connect sign-in
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")  # or OIDC_RP_CLIENT_SECRET_FILE
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid profile email")
OIDC_USERNAME_CLAIM = env_str("OIDC_USERNAME_CLAIM", "preferred_username")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_CALLBACK_CLASS = "mozilla_django_oidc.views.OIDCAuthenticationCallbackView"
LOGIN_REDIRECT_URL = "/"
LOGIN_REDIRECT_URL_FAILURE = "/login/?annuaire=refuse"
if OIDC_ENABLED:
    if not (OIDC_OP_AUTHORIZATION_ENDPOINT and OIDC_OP_TOKEN_ENDPOINT and OIDC_OP_USER_ENDPOINT and OIDC_OP_JWKS_ENDPOINT):
        raise ImproperlyConfigured("OIDC_RP_CLIENT_ID needs the four OIDC_OP_*_ENDPOINT settings of the provider")
    AUTHENTICATION_BACKENDS.append("identities.portal.directory.PortalOIDCBackend")

AUTHENTICATION_BACKENDS.append("django.contrib.auth.backends.ModelBackend")  # local accounts

# Throttling (django-axes): five wrong passwords lock that user name FROM that address (the
# pair), never every account of a workstation or of the hospital's reverse proxy.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "admin/lockout.html"
# The client address: REMOTE_ADDR, unless it is one of TRUSTED_PROXIES (addresses or networks
# of the hospital's reverse proxies), whose X-Forwarded-For is then read from the right.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
AXES_CLIENT_IP_CALLABLE = "insportal.client_ip.client_ip"

# Content-Security-Policy (django-csp): no inline script, no inline style element or
# attribute (the portal's styles are classes in static CSS, its bars SVG attributes). One
# style attribute is allowed by its hash: django-simple-history's history list paginator
# (style="border-top: 0"); the admin Django ships has none (docs/decisions.md).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-hashes'", "'sha256-XMXSevYjgSjXgRafBFDvtjwX+yyWLrxfso9DcNZ9UXM='"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
