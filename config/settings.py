"""Settings for the leopard registry, read from the environment.

Two modes, chosen by REGISTRY_MODE:
- ``local`` (the default): a first run on a laptop. SQLite in ./var, photos on
  the local disk, Celery tasks run in process unless CELERY_BROKER_URL is set,
  an insecure development secret key. DEBUG is off unless set, so that people
  trying the registry see its own error pages, not Django's (DEBUG=true for
  development).
- ``production``: every secret must come from the environment, DEBUG is off and
  the security settings pass ``manage.py check --deploy``.

Every variable is listed in .env.example.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from config.map_tiles import tile_image_sources, tile_max_zoom

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

REGISTRY_MODE = env.str("REGISTRY_MODE", default="local")
if REGISTRY_MODE not in {"local", "production"}:
    raise environ.ImproperlyConfigured("REGISTRY_MODE must be 'local' or 'production'.")
LOCAL_MODE = REGISTRY_MODE == "local"

# Off by default in local mode too: with DEBUG on, Django answers every 404 with
# its list of URL patterns and every error with a traceback and settings, and
# offers no switch to show the registry's own pages instead.
DEBUG = env.bool("DEBUG", default=False)
if LOCAL_MODE:
    # A fixed key is fine on a laptop with demo data and never used in production mode.
    SECRET_KEY = env.str("SECRET_KEY", default="local-mode-only-not-secret-leopard-registry-key")
else:
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if LOCAL_MODE else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "csp",
    "accounts",
    "traps",
    "exchange",
    "leopards",
    "census",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Headers every response carries, set outside the layers that can fail.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # A lost database connection is a 503 with Retry-After, not a 500, wherever it
    # is lost: outside the session and authentication middleware, which read the
    # database before any view runs.
    "accounts.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A NUL in the URL is a 400 here, before a view hands it to PostgreSQL.
    "config.bad_input.RefuseNullCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Nothing in the registry is public: every page needs a login unless a view
    # is explicitly marked with @login_not_required (the login page itself).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "traps.context_processors.navigation",
                "traps.context_processors.map_tiles",
                "demo.context_processors.demo_status",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'registry.sqlite3'}",
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the development server and an in-process task share the file.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # Tests on SQLite use a file as well, not memory: the browser tests' live
    # server answers from several threads, which would all share one in-memory
    # connection and interleave their transactions.
    DATABASES["default"].setdefault("TEST", {})
    DATABASES["default"]["TEST"].setdefault(
        "NAME", str(Path(DATABASES["default"]["NAME"]).with_name("test-registry.sqlite3"))
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    # First: refuses a user name and address locked out after repeated failures.
    "accounts.backends.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Guessing passwords: 5 failures of one user name from one address lock that
# pair out for 15 minutes; a successful login clears the count.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# Production runs behind a TLS proxy (TRUSTED_PROXY_COUNT of them in a row),
# each of which appends the address it saw to X-Forwarded-For; without a proxy
# that header is the client's own word and is ignored. One function reads the
# client's address for the login throttle and the access logs.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=not LOCAL_MODE)
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
AXES_CLIENT_IP_CALLABLE = "accounts.network.client_address"

# Time-limited API tokens for scripts (Authorization: Token <key>).
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=30)
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation: rangers work in Russian or Chinese.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ru", _("Russian")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# Counts are grouped with |intcomma as each language writes them; Chinese as CLDR does.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# Photos go through STORAGES only: local files by default, S3-style object
# storage when AWS_STORAGE_BUCKET_NAME is set.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or LOCAL_MODE
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Local mode serves static files straight from the source folders (no
# collectstatic needed, an edited stylesheet shows on reload), DEBUG or not.
WHITENOISE_USE_FINDERS = DEBUG or LOCAL_MODE
WHITENOISE_AUTOREFRESH = DEBUG or LOCAL_MODE

# Celery: without a broker the same task code runs in process (local mode).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Celery still builds a (never used) broker connection for an in-process
    # task; kombu's in-memory transport keeps it from looking for a server.
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = False
# The queue tasks go to, including those a task sends (one queue per registry
# sharing a broker; the worker tests give each test its own).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# A worker killed mid-task leaves the message in the queue; tasks are idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=600)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=540)
# A message whose worker took it and then vanished without a word (its machine
# cut off the network or powered off: a killed process gives its messages back)
# is delivered again after this long. Longer than any task may run, or a long
# task would be run twice at once.
BROKER_VISIBILITY_TIMEOUT = env.int("BROKER_VISIBILITY_TIMEOUT", default=3600)
if BROKER_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise environ.ImproperlyConfigured(
        "BROKER_VISIBILITY_TIMEOUT must be longer than CELERY_TASK_TIME_LIMIT."
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": BROKER_VISIBILITY_TIMEOUT,
    # Each worker looks for such messages every 10 s; kombu's default scans on
    # every tenth look only (100 s). A scan is one small sorted-set read.
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Photos whose processing message was lost (a broker outage at upload time, a
# worker that died without its message coming back) are queued again once they
# have sat received or processing for PHOTOS_STUCK_AFTER_SECONDS. No task runs
# longer than CELERY_TASK_TIME_LIMIT, so a photo processing for longer than that
# has lost its worker; the extra minute covers a clock step between machines.
PHOTOS_STUCK_AFTER_SECONDS = env.int(
    "PHOTOS_STUCK_AFTER_SECONDS", default=CELERY_TASK_TIME_LIMIT + 60
)
if PHOTOS_STUCK_AFTER_SECONDS <= CELERY_TASK_TIME_LIMIT:
    # Sooner, and a photo still being processed would be processed twice at once.
    raise environ.ImproperlyConfigured(
        "PHOTOS_STUCK_AFTER_SECONDS must be longer than CELERY_TASK_TIME_LIMIT."
    )
# A processing task also takes up to this many photos of its deployment that are
# waiting behind it, and writes their results in one transaction: about 5 s of
# work for 12-megapixel photos at 24, far inside CELERY_TASK_TIME_LIMIT. 24 was
# chosen against 0 and 8 with bench/ingest.py (bench/README.md); 0 processes one
# photo a task.
PHOTO_PROCESS_WITH_WAITING = env.int("PHOTO_PROCESS_WITH_WAITING", default=24)
CELERY_BEAT_SCHEDULE = {
    "photos-requeue-stuck": {
        "task": "traps.tasks.photos_requeue_stuck",
        "schedule": env.int("PHOTOS_REQUEUE_EVERY_SECONDS", default=60),
    },
}

# Everything cached can be computed again: with Redis down, pages are slower,
# never broken (the backend answers a miss and logs a warning), and a Redis
# that does not answer costs at most the timeouts below.
CACHES = {
    "default": (
        {
            "BACKEND": "config.cache.OutageTolerantRedisCache",
            "LOCATION": env.str("CACHE_URL"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
        if env.str("CACHE_URL", default="")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that an API call without credentials gets 401 with
        # WWW-Authenticate: Token rather than 403.
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies are read by one parser that refuses, with a 400, nesting past
    # JSON_MAX_DEPTH, NaN/Infinity, integers no column holds and NUL characters.
    "DEFAULT_PARSER_CLASSES": [
        "config.json_input.CheckedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["config.filter_backend.BoundedFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.RegistryAutoSchema",
    # Every API error is JSON {"detail", "code"}, field errors kept under "errors".
    "EXCEPTION_HANDLER": "config.api_errors.json_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Leopard registry API",
    "DESCRIPTION": "Camera traps, photos, individuals, sightings and census of the Amur leopard.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema is for the registry's own users and scripts, like the rest of the API.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The documentation page loads Swagger UI from the registry, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status" with different choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "PhotoStatusEnum": "traps.models.Photo.Status",
        "EventStatusEnum": "traps.models.Event.Status",
        "SightingStatusEnum": "leopards.models.Sighting.Status",
        "LeopardStatusEnum": "leopards.models.Leopard.Status",
        "SecondOpinionStatusEnum": "leopards.models.SecondOpinion.Status",
    },
}

# The science: the census definitions are in census/selectors.py.
# Two records of one individual at one station count as independent detections
# only when at least this far apart; also the gap that closes a photo event.
INDEPENDENCE_INTERVAL_MINUTES = env.int("INDEPENDENCE_INTERVAL_MINUTES", default=30)
# Age classes of Panthera pardus, in whole months since (estimated) birth:
# kitten below 1 year, subadult from 1 to 2 years, adult from 2 years.
AGE_CLASS_SUBADULT_FROM_MONTHS = env.int("AGE_CLASS_SUBADULT_FROM_MONTHS", default=12)
AGE_CLASS_ADULT_FROM_MONTHS = env.int("AGE_CLASS_ADULT_FROM_MONTHS", default=24)
# Coordinates shown to people without exact-location rights are generalised to
# a grid cell of this many degrees (GBIF's rule for highly sensitive species).
COORDINATE_GENERALISATION_DEGREES = 0.1
# A base map under the registry's maps, off by default (the maps then show park
# outlines and grid cells on a plain ground): a slippy-map tile server in web
# Mercator such as https://{s}.tile.example.org/{z}/{x}/{y}.png, and the credit
# its licence asks for (HTML, shown in the map's corner). Its host is added to
# the CSP's img-src. Tiles are never asked for finer than the generalisation
# cell, so the tile server learns no more of where stations are than a map shows.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="")
MAP_TILE_ATTRIBUTION = env.str("MAP_TILE_ATTRIBUTION", default="")
MAP_TILE_MAX_ZOOM = tile_max_zoom(COORDINATE_GENERALISATION_DEGREES)
# Review: a scientist's claim on an event lapses after this long without a save,
# and this share of confirmed identifications goes to a blind second opinion.
REVIEW_CLAIM_MINUTES = env.int("REVIEW_CLAIM_MINUTES", default=30)
SECOND_OPINION_SAMPLE_RATE = env.float("SECOND_OPINION_SAMPLE_RATE", default=0.1)
# Confirming a candidate the matcher flags "probably a new individual", or gives a
# probability below this, takes a second, deliberate step (a dialog on the page,
# "override": true in the API); it is recorded and always checked blind. 0.5: the
# matcher thinks the match more likely wrong than right.
MATCH_CONFIRM_MIN_PROBABILITY = env.float("MATCH_CONFIRM_MIN_PROBABILITY", default=0.5)

# Spot-pattern matching. Every worker process keeps its own in-memory index and
# catches up from the catalogue journal in the database before each query; this
# folder (shared by all workers, or one per machine) holds snapshots so that a
# new process loads one instead of rebuilding from the stored features.
MATCH_INDEX_DIR = Path(env.str("MATCH_INDEX_DIR", default=str(VAR_DIR / "match-index")))
# Write a new snapshot after this many catalogue changes since the last one.
MATCH_INDEX_SNAPSHOT_EVERY = env.int("MATCH_INDEX_SNAPSHOT_EVERY", default=200)
# Calibration of match scores into probabilities (JSON from evaluate_matching
# --calibration-out); empty: the parameters shipped with the code.
MATCH_CALIBRATION_FILE = env.str("MATCH_CALIBRATION_FILE", default="")
# The pair check's projection of DISK's descriptors (leopards.matching.whitening): a file
# fitted on this registry's confirmed photos (manage.py fit_match_whitening); empty: the
# one shipped with the code, fitted on nyala flanks; "none": DISK's own descriptors.
MATCH_WHITENING_FILE = env.str("MATCH_WHITENING_FILE", default="")
MATCH_CANDIDATES = env.int("MATCH_CANDIDATES", default=5)
# Second stage: the first MATCH_RERANK_TOP_K individuals, in the order the pair check
# below leaves, are compared again with a learned matcher, against at most
# MATCH_RERANK_REFERENCES reference boxes each. 2 is the measured setting
# (bench/README.md, "Pairs checked before the re-rank"): after the pair check, the
# learned matcher put the animal first on nyala flanks as often comparing 2 as 4
# (0.458 against 0.443), for half the cost; before it, 4 was best. It runs where the
# tasks run (the worker; the web process only in local mode, without a broker). 0 turns
# it off; without requirements-learned*.txt installed the shortlist ranks alone and a
# system check says so.
MATCH_RERANK_TOP_K = env.int("MATCH_RERANK_TOP_K", default=2)
MATCH_RERANK_REFERENCES = env.int("MATCH_RERANK_REFERENCES", default=1)
# Before the second stage, the shortlist's first MATCH_VERIFY_TOP_N individuals are
# re-ordered by a pair check of their stored DISK features (leopards.matching.verify):
# a few milliseconds a pair, and the animal leads on 44 % of nyala queries instead of
# 32 %, and is among the first 2 on 52 % instead of 42 % (bench/README.md, "Pairs
# checked before the re-rank"; 40 rather than 20: "The pair check of 40"). It runs with
# the second stage, which then compares the best pair's reference of each; 0 turns it off.
MATCH_VERIFY_TOP_N = env.int("MATCH_VERIFY_TOP_N", default=40)
# Which learned matcher: "disk" (DISK + LightGlue, which ranks real nyala flanks
# better than the shortlist) or "xfeat" (XFeat + LighterGlue, 20 times cheaper to
# extract, but no better than the shortlist there). bench/README.md has the figures.
# Switching extracts the boxes' learned features again as they are compared.
MATCH_LEARNED_BACKEND = env.str("MATCH_LEARNED_BACKEND", default="disk")
if MATCH_LEARNED_BACKEND not in ("disk", "xfeat"):
    raise environ.ImproperlyConfigured("MATCH_LEARNED_BACKEND must be 'disk' or 'xfeat'.")
# The first stage's DISK voice: above 0, each catalogue also keeps a faiss index of
# its references' stored DISK features (the second stage's: masked, 384 px, every
# keypoint on the animal; MATCH_LEARNED_BACKEND=disk), voted on like SIFT's, and each
# individual's SIFT and DISK votes, each divided by the query's best, are added with
# this weight on DISK's. 2.0 is the measured value: on all nyala photos, chosen on four
# fifths of the animals and read on the fifth, it puts the animal among the shortlist's
# first 3 for 0.44 of queries against SIFT's 0.29 (bench/README.md), and is the default.
# It needs the DISK features of every catalogue box: bulk extraction describes boxes
# with DISK too, and `match_index_rebuild --extract-missing` describes those without
# them. 0: SIFT alone. Without the learned packages installed the shortlist hears SIFT
# alone whatever it says.
MATCH_FIRST_STAGE_DISK_WEIGHT = env.float("MATCH_FIRST_STAGE_DISK_WEIGHT", default=2.0)
# faiss threads per process: workers run one process per core already, and more
# threads than free cores make faiss spin and slow down severalfold.
MATCH_FAISS_THREADS = env.int("MATCH_FAISS_THREADS", default=1)

# Upload limits: a 12-megapixel camera-trap JPEG is 3-8 MB.
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=40 * 1024 * 1024)
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=50_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# JSON sent to the registry (API bodies, MegaDetector results, Camtrap DP
# descriptors) is refused past this depth; the real formats need fewer than 10.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)
# A Camtrap DP zip is checked before it is unpacked (its listing) and while it
# is (bytes written): refused past this many files, this many bytes unpacked,
# or a file unpacked to more than this many times its compressed size.
IMPORT_ZIP_MAX_FILES = env.int("IMPORT_ZIP_MAX_FILES", default=20_000)
IMPORT_ZIP_MAX_BYTES = env.int("IMPORT_ZIP_MAX_BYTES", default=2 * 1024**3)
IMPORT_ZIP_MAX_RATIO = env.int("IMPORT_ZIP_MAX_RATIO", default=100)
# A Camtrap DP table of more rows than this is refused before anything is read
# into the registry: a park's year is about 2 million photos.
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=10_000_000)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# A ranger's field day; a session ends after 12 hours however active it is.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = False
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the upload page reads it to send API requests
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Pages load scripts, styles and images from the registry only: no inline
# script or style attribute anywhere (Leaflet and Chart.js set styles through
# the DOM, which style-src does not govern). Photos in object storage are
# images from the bucket's address (CSP_IMG_SRC_EXTRA).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": [
            "'self'",
            "data:",
            "blob:",
            *env.list("CSP_IMG_SRC_EXTRA", default=[]),
            *tile_image_sources(MAP_TILE_URL),
        ],
        "connect-src": ["'self'"],
        # The upload page hashes files in a worker script served by the registry.
        "worker-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# History is evidence: it is read in the admin, never rewritten from it.
SIMPLE_HISTORY_REVERT_DISABLED = True

if not LOCAL_MODE:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # faiss tells at INFO, with the ModuleNotFoundError, each CPU-specific
        # build it could not load before the one it does: nothing is wrong.
        "faiss.loader": {"level": "WARNING"},
        # django-axes announces its version in every process at start.
        "axes.apps": {"level": "WARNING"},
        # runserver's "Watching for file changes" line, under bin/run's address.
        "django.utils.autoreload": {"level": "WARNING"},
        # Tasks run in process (no broker) log one "succeeded" line each, hundreds
        # while the demo is built; failures and retries still show.
        **({"celery.app.trace": {"level": "WARNING"}} if CELERY_TASK_ALWAYS_EAGER else {}),
    },
}
