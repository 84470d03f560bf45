"""Settings for the whole project.

What operators set comes first, read from the environment topic by topic,
with the application's fixed wiring (apps, middleware, templates) beside the
topic it belongs to; what is derived from those settings comes last, each
assigned once. Every variable has an
embedded default so that `make run` works on a laptop: SQLite, a Redis on
localhost (started by `make run` if none answers) and the CPU inference
service from `inference/`.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from chatapp.secret_key import is_weak, load_or_create

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Without SECRET_KEY, a random key is made once and kept in DATA_DIR, so that
# a laptop needs no setting and no key is ever public. Several hosts must
# share one key: production sets it.
SECRET_KEY = env.str("SECRET_KEY", default="") or load_or_create(DATA_DIR / "secret_key")
if not DEBUG and is_weak(SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for DEBUG=false: use at least 50 random characters, "
        "e.g. SECRET_KEY=$(openssl rand -hex 32), or leave it unset to use a key generated in DATA_DIR."
    )

# --- HTTPS, cookies and headers (see "Running in production" in the README) ---
# Behind a TLS proxy: the header it sets and the value meaning HTTPS, e.g.
# SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto (value "https" unless given as "Header,value").
_proxy_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
# One switch for a site served over HTTPS only; each setting can still be set on its own.
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_HTTPONLY = True
# The chat's scripts read the CSRF token from its cookie.
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SAMESITE = env.str("SESSION_COOKIE_SAMESITE", default="Lax")
CSRF_COOKIE_SAMESITE = env.str("CSRF_COOKIE_SAMESITE", default="Lax")
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HSTS preloading commits the whole domain, for years, to a browser list: the
# domain's owner decides, with SECURE_HSTS_PRELOAD, not this app's checks.
SILENCED_SYSTEM_CHECKS = ["security.W021"]


INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "csp",
    "chatapp.chat",
    "chatapp.images",
    "chatapp.review",
    "chatapp.faq",
    "chatapp.documents",
    "chatapp.api",
    "chatapp.ops",
    "chatapp.accounts",
]

MIDDLEWARE = [
    # First: every later part sees the client's own address (TRUSTED_PROXY_COUNT).
    "chatapp.accounts.middleware.ClientAddressMiddleware",
    # Probes are answered before host checks and redirects.
    "chatapp.ops.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its response.
    "axes.middleware.AxesMiddleware",
    # Signs out a user the identity provider no longer accepts (OIDC_RECHECK_SECONDS).
    "chatapp.accounts.middleware.ProviderCheckMiddleware",
]

ROOT_URLCONF = "chatapp.urls"
ASGI_APPLICATION = "chatapp.asgi.application"

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
# Not a setting of its own: it may carry a password (DATABASES hides it on error pages).
_database_url = env.str("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'chatapp.sqlite3'}")
# Connections a process's pool (PostgreSQL) keeps, and how long a request
# waits for one before it fails: a 503 page while the database is down instead
# of a hung page, and a websocket handshake answered within daphne's 5 s limit.
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=20)
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=10.0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Overridable so that test servers can share the tests' fast hasher.
PASSWORD_HASHERS = env.list(
    "PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in protection (django-axes): both sign-in forms, /accounts/login/ and /admin/login/ ---
# django-axes' backend first: it refuses a locked-out sign-in before any password is checked.
# Then Django's password sign-in, limited to superusers when LOCAL_LOGIN is off,
# and ProviderBackend, which keeps users signed in through the identity provider.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "chatapp.accounts.backends.LocalPasswordBackend",
    "chatapp.accounts.backends.ProviderBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
# Hours a lockout lasts; `manage.py axes_reset` (or axes_reset_username NAME) lifts it at once.
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=1.0)
# A name and an address together: a stranger cannot lock a colleague out, and
# one person's typos do not lock out the whole office behind one address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client's address, for the lockout, the reset throttle and /metrics' same-host
# rule: REMOTE_ADDR, or behind N proxies that each append to X-Forwarded-For, the
# N-th address from its right (TRUSTED_PROXY_COUNT=N). daphne's --proxy-headers takes
# the leftmost, which any client can write: use this instead (see the README's
# "Security limits").
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Where mail goes (smtp://user:password@host:587, smtps://..., consolemail://);
# password reset mails a link, offered only where mail can be sent.
EMAIL_URL = env.str("EMAIL_URL", default="")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")
PASSWORD_RESET_RATE = env.str("PASSWORD_RESET_RATE", default="5/hour")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
# Uploaded files are never served from a public URL: see the authorised image view.
MEDIA_URL = None
STORAGES = {
    # Django's file system storage, but a failed write (a full disk) leaves no partial file.
    "default": {"BACKEND": "chatapp.images.storage.CleanFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Redis: Celery broker, channel layer, live stream logs and stop signals ---
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")


def redis_host(address: str) -> dict:
    """Connection options of the channel layer's Redis, for any address."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return {
        "address": address,
        "socket_timeout": 30,
        "socket_connect_timeout": 2,
        "socket_keepalive": True,
        # A pooled connection idle this long is PINGed before use: after a
        # Redis restart the dead ones are replaced at once, not on failure.
        "health_check_interval": 10,
        # redis-py's default retries for up to ~10 s with backoff: while Redis
        # is down a websocket handshake should fail fast and the client retry.
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


# The pub/sub layer: a group message is one PUBLISH, received once per web
# process whatever the number of its sockets, and memberships live and die
# with the process's subscriptions (nothing stale stays in Redis after a
# crash). It is at-most-once, like every channel layer: numbered chunks and
# the Redis log repair any message lost (chatapp/chat/live.py).
#
# CHANNEL_PREFIX starts every key this app writes in Redis (channel layer,
# answer logs, rate limits): one Redis can serve several deployments.
CHANNEL_PREFIX = env.str("CHANNEL_PREFIX", default="chatapp")
CELERY_RESULT_BACKEND = None
# No results are kept, so the (disabled) backend has no state: one object for
# the whole process. Otherwise each of the threads pool's threads builds its
# own on its first task, scanning every installed package's entry points
# (~50 ms of CPU each), which a burst of questions pays on up to 200 threads.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="chatapp")
# Longer than the longest generation (GENERATION_TIMEOUT) so a task that is
# still running is never handed to a second worker.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Inference ---
INFERENCE_URL = env.str("INFERENCE_URL", default="http://127.0.0.1:8001/v1")
INFERENCE_API_KEY = env.str("INFERENCE_API_KEY", default="")
INFERENCE_MODEL = env.str("INFERENCE_MODEL", default="SmolLM2-135M-Instruct")
# Models that only demonstrate the product (the CPU service's default): the chat
# says so, and how to point INFERENCE_URL at a real one.
DEMO_MODELS = env.list("DEMO_MODELS", default=["SmolLM2-135M-Instruct"])
# Models asked for a short title once a conversation's first answer is done;
# others keep the title made from the question's key words.
TITLE_MODELS = env.list("TITLE_MODELS", default=["mistralai/Ministral-3-3B-Instruct-2512"])
TITLE_TIMEOUT = env.float("TITLE_TIMEOUT", default=10.0)
# Tokens of context the model accepts (vLLM's --max-model-len); the prompt
# must fit in INFERENCE_CONTEXT_TOKENS - INFERENCE_MAX_TOKENS.
INFERENCE_CONTEXT_TOKENS = env.int("INFERENCE_CONTEXT_TOKENS", default=2048)
# The share of the context left free when the prompt is only estimated
# (characters / 3); where the endpoint counts (vLLM's /tokenize) its count decides.
INFERENCE_CONTEXT_MARGIN = env.float("INFERENCE_CONTEXT_MARGIN", default=0.1)
# Bots without their own values use these two (a bot's max_tokens can only lower it).
INFERENCE_MAX_TOKENS = env.int("INFERENCE_MAX_TOKENS", default=512)
INFERENCE_TEMPERATURE = env.float("INFERENCE_TEMPERATURE", default=0.2)
INFERENCE_CONNECT_TIMEOUT = env.float("INFERENCE_CONNECT_TIMEOUT", default=5.0)
# Longest wait for an answer's first token: it includes the time the request
# waits in the engine's queue (vLLM sends nothing until it is scheduled).
INFERENCE_FIRST_TOKEN_TIMEOUT = env.float("INFERENCE_FIRST_TOKEN_TIMEOUT", default=180.0)
# Longest silence tolerated between two chunks once the answer has begun.
INFERENCE_READ_TIMEOUT = env.float("INFERENCE_READ_TIMEOUT", default=20.0)
# The "priority" a conversation's title request carries (vLLM with
# --scheduling-policy priority: lower goes sooner; answers carry none, i.e. 0),
# so that background titles never delay a person's answer.
# 0 sends none, as an engine without that policy refuses any other value.
INFERENCE_TITLE_PRIORITY = env.int("INFERENCE_TITLE_PRIORITY", default=0)
SYSTEM_PROMPT = env.str(
    "SYSTEM_PROMPT",
    default="You are a helpful assistant for a software team. Answer clearly and concisely, using Markdown.",
)

# --- Streaming ---
GENERATION_TIMEOUT = env.int("GENERATION_TIMEOUT", default=600)
# Tokens are coalesced into chunks at least this often apart; when the worker
# is busy the interval stretches up to STREAM_MAX_FLUSH_INTERVAL.
STREAM_FLUSH_INTERVAL = env.float("STREAM_FLUSH_INTERVAL", default=0.05)
STREAM_MAX_FLUSH_INTERVAL = env.float("STREAM_MAX_FLUSH_INTERVAL", default=0.5)
# How often a chunk carries the answer's HTML (the browser shows plain text in between).
STREAM_RENDER_INTERVAL = env.float("STREAM_RENDER_INTERVAL", default=1.0)
STREAM_SAVE_INTERVAL = env.float("STREAM_SAVE_INTERVAL", default=1.0)
# A generation whose worker stops renewing its lease this long is declared lost.
GENERATION_LEASE_SECONDS = env.int("GENERATION_LEASE_SECONDS", default=15)
# Seconds without text after which listeners are told the model is silent.
ANSWER_SILENCE_NOTICE = env.float("ANSWER_SILENCE_NOTICE", default=4.0)
# The worker retries its saves this long while the database is unreachable.
DATABASE_RETRY_SECONDS = env.float("DATABASE_RETRY_SECONDS", default=60.0)
# On SIGTERM a worker lets its answers run this long, then hands the rest back
# (no text yet: queued again; some text: ended with Retry, text kept). Keep it
# below the container's stop grace (docker-compose.yml `stop_grace_period`).
WORKER_SHUTDOWN_GRACE = env.float("WORKER_SHUTDOWN_GRACE", default=20.0)
# The reaper (Celery beat, every REAPER_INTERVAL seconds) re-sends answers
# queued this long (their task may be lost) and fails those queued past
# ANSWER_QUEUE_TIMEOUT; it ends answers whose lease lapsed.
REAPER_INTERVAL = env.float("REAPER_INTERVAL", default=5.0)
ANSWER_RESEND_AFTER = env.float("ANSWER_RESEND_AFTER", default=15.0)
ANSWER_QUEUE_TIMEOUT = env.float("ANSWER_QUEUE_TIMEOUT", default=180.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_without_traceback": {"()": "chatapp.ops.logfilters.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["forbidden_without_traceback"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # A line per task received and done (the reaper runs every few seconds)
        # would scroll the first run's sign-in away: TASK_LOG_LEVEL=INFO brings them back.
        "celery.app.trace": {"level": env.str("TASK_LOG_LEVEL", default="WARNING")},
        "celery.worker.strategy": {"level": env.str("TASK_LOG_LEVEL", default="WARNING")},
    },
}

MAX_MESSAGE_CHARS = env.int("MAX_MESSAGE_CHARS", default=20000)

# --- Images in chat ---
MAX_IMAGE_BYTES = env.int("MAX_IMAGE_BYTES", default=10 * 1024 * 1024)
# Checked from the header before any pixel is decoded; far below Pillow's own
# decompression-bomb limit (about 179 megapixels).
MAX_IMAGE_PIXELS = env.int("MAX_IMAGE_PIXELS", default=25_000_000)
MAX_IMAGE_FRAMES = env.int("MAX_IMAGE_FRAMES", default=100)
MAX_IMAGES_PER_MESSAGE = env.int("MAX_IMAGES_PER_MESSAGE", default=4)
MAX_IMAGE_TOTAL_BYTES = env.int("MAX_IMAGE_TOTAL_BYTES", default=25 * 1024 * 1024)
# Ministral 3's vision encoder scales anything larger down to 1540 px on the
# longest side: storing more only costs disk and tokens.
IMAGE_MAX_SIDE = env.int("IMAGE_MAX_SIDE", default=1540)
IMAGE_THUMBNAIL_SIDE = env.int("IMAGE_THUMBNAIL_SIDE", default=320)
# The largest request body outside the API (an image upload with its form), refused
# with 413 before it is buffered (chatapp.asgi.BodyLimit); the API has API_MAX_REQUEST_BYTES.
REQUEST_MAX_BYTES = env.int("REQUEST_MAX_BYTES", default=MAX_IMAGE_BYTES + 1024 * 1024)
# How the model reads images: "vision" sees them (Ministral 3 on vLLM), "ocr"
# gets their text from the inference service (the CPU model). Per model:
# INFERENCE_IMAGE_MODES="mistralai/Ministral-3-3B-Instruct-2512=vision,other=ocr".
INFERENCE_IMAGE_MODE = env.str("INFERENCE_IMAGE_MODE", default="ocr")
INFERENCE_IMAGE_MODES = env.dict("INFERENCE_IMAGE_MODES", default={})
# Images per request the model server accepts (vLLM --limit-mm-per-prompt,
# 4 in docker-compose.yml); older images beyond it are left out.
INFERENCE_MAX_IMAGES = env.int("INFERENCE_MAX_IMAGES", default=4)
# Prompt tokens counted for an image read through OCR (its text and size line).
INFERENCE_OCR_IMAGE_TOKENS = env.int("INFERENCE_OCR_IMAGE_TOKENS", default=256)

# --- Review: retention ---
# Conversations with no activity for this many days are deleted, with their
# image files, by a daily Celery beat job (`celery -A chatapp beat`); 0 keeps
# everything. `manage.py purge_conversations` does the same on demand.
PURGE_CONVERSATIONS_AFTER_DAYS = env.int("PURGE_CONVERSATIONS_AFTER_DAYS", default=0)

# --- Team FAQ: retrieval for knowledge-base bots ---
# Entries listed (and given to the model) for each question.
FAQ_TOP_K = env.int("FAQ_TOP_K", default=3)
# How knowledge-base answers are written: "quote" (the entry's own text with its
# citation; nothing generated) or "generate" (the model writes from the entries,
# checked before the answer is final). Per model, like INFERENCE_IMAGE_MODES:
# FAQ_ANSWER_MODES="mistralai/Ministral-3-3B-Instruct-2512=generate".
FAQ_ANSWER_MODE = env.str("FAQ_ANSWER_MODE", default="quote")
FAQ_ANSWER_MODES = env.dict("FAQ_ANSWER_MODES", default={})
# In "generate" mode, a question this similar (0..1) to an entry's question or
# phrasing is answered with the entry's own text, without the model; 1.1 turns that off.
FAQ_NEAR_EXACT = env.float("FAQ_NEAR_EXACT", default=0.9)
# Hybrid ranking, when an OpenAI-compatible /v1/embeddings is available.
FAQ_EMBEDDINGS_URL = env.str("FAQ_EMBEDDINGS_URL", default="")
FAQ_EMBEDDINGS_MODEL = env.str("FAQ_EMBEDDINGS_MODEL", default="")
FAQ_EMBEDDINGS_API_KEY = env.str("FAQ_EMBEDDINGS_API_KEY", default=INFERENCE_API_KEY)
# At most this many texts per embeddings request (TEI's default --max-client-batch-size is 32).
FAQ_EMBEDDINGS_BATCH = env.int("FAQ_EMBEDDINGS_BATCH", default=32)
# Prefixes some embedding models need (e5: "query: " and "passage: "); none for the CPU model.
FAQ_EMBEDDINGS_QUERY_PREFIX = env.str("FAQ_EMBEDDINGS_QUERY_PREFIX", default="")
FAQ_EMBEDDINGS_PASSAGE_PREFIX = env.str("FAQ_EMBEDDINGS_PASSAGE_PREFIX", default="")
# Seconds a question waits for its embedding before it is searched lexically.
FAQ_EMBEDDINGS_QUERY_TIMEOUT = env.float("FAQ_EMBEDDINGS_QUERY_TIMEOUT", default=2.0)
# After the endpoint failed, the index is rebuilt with embeddings at most this often.
FAQ_EMBEDDINGS_RETRY_SECONDS = env.float("FAQ_EMBEDDINGS_RETRY_SECONDS", default=60.0)

# --- Documents: files read into passages the knowledge base cites ---
# Every file is read in a child process of the worker with these limits; a file
# past one is refused with the reason, and nothing else is affected.
DOCUMENTS_MAX_BYTES = env.int("DOCUMENTS_MAX_BYTES", default=50 * 1024 * 1024)
DOCUMENTS_MAX_PAGES = env.int("DOCUMENTS_MAX_PAGES", default=2000)
DOCUMENTS_MAX_PASSAGES = env.int("DOCUMENTS_MAX_PASSAGES", default=5000)
DOCUMENTS_SECONDS_PER_FILE = env.float("DOCUMENTS_SECONDS_PER_FILE", default=120.0)
# Address space of the reading process, in MiB: a decompression bomb fails there.
DOCUMENTS_MEMORY_MB = env.int("DOCUMENTS_MEMORY_MB", default=2048)
# A zip uploaded in the admin: how many files, and how many bytes once unpacked.
DOCUMENTS_ZIP_MAX_MEMBERS = env.int("DOCUMENTS_ZIP_MAX_MEMBERS", default=500)
DOCUMENTS_ZIP_MAX_BYTES = env.int("DOCUMENTS_ZIP_MAX_BYTES", default=500 * 1024 * 1024)
# Documents each worker process reads at once; the others wait in the queue.
DOCUMENTS_CONCURRENCY = env.int("DOCUMENTS_CONCURRENCY", default=2)
# Words per passage, at most (about 300 tokens); passages end at sentence ends.
DOCUMENTS_PASSAGE_WORDS = env.int("DOCUMENTS_PASSAGE_WORDS", default=220)

# --- OpenAI-compatible API (/v1/) ---
# Requests per API token, in the `limits` notation: "60/minute", "1000/hour",
# "10 per second"; empty turns the limit off. Counted in Redis.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="60/minute")
# An answer that no worker has started after this many seconds is given up
# with a 503, rather than keeping the client waiting on a stalled queue.
API_QUEUE_TIMEOUT = env.float("API_QUEUE_TIMEOUT", default=60.0)
# Seconds between checks, while an answer streams, that its API token is still
# valid and its user active: a revoked token's stream ends within about this.
API_TOKEN_RECHECK_SECONDS = env.float("API_TOKEN_RECHECK_SECONDS", default=2.0)
# Turns of a client's history stored with its question, at most (fewer when they
# would not fit the model's context anyway: INFERENCE_CONTEXT_TOKENS).
API_MAX_STORED_TURNS = env.int("API_MAX_STORED_TURNS", default=40)
# Largest request body: a long history plus a message's images, which data:
# URIs make a third larger than the files.
API_MAX_REQUEST_BYTES = env.int("API_MAX_REQUEST_BYTES", default=MAX_IMAGE_TOTAL_BYTES * 4 // 3 + 1024 * 1024)

# --- Single sign-on (OpenID Connect) and group-scoped access ---
# The provider's issuer URL; its /.well-known/openid-configuration says the rest.
# Empty turns single sign-on off.
OIDC_ISSUER = env.str("OIDC_ISSUER", default="")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID", default="")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET", default="")
OIDC_SCOPES = env.list("OIDC_SCOPES", default=["openid", "email", "profile"])
# The claim (ID token or userinfo) that lists the user's groups.
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
# Provider group = Django group, comma-separated; the targets `staff` and
# `superuser` set those flags. Mapped groups follow the provider on every sign-in.
OIDC_GROUP_MAP = env.list("OIDC_GROUP_MAP", default=[])
# Empty lets in anyone the provider signs in.
OIDC_ALLOWED_EMAIL_DOMAINS = env.list("OIDC_ALLOWED_EMAIL_DOMAINS", default=[])
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
# How often a signed-in user's account is checked with the provider (a
# refresh-token grant); one it refuses is deactivated here. 0: never.
OIDC_RECHECK_SECONDS = env.int("OIDC_RECHECK_SECONDS", default=900)
OIDC_TIMEOUT = env.float("OIDC_TIMEOUT", default=10.0)
# Off: only superusers may sign in with a password (the break-glass account).
LOCAL_LOGIN = env.bool("LOCAL_LOGIN", default=True)

# --- Operations: probes, metrics ---
# /metrics (Prometheus) answers requests bearing `Authorization: Bearer
# <METRICS_TOKEN>`; without a token only requests from this host get it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Every process (web, worker, beat; any container sharing the directory)
# writes its samples below METRICS_DIR, in a directory per host, and /metrics
# adds them all up. Unset: each process counts only its own.
METRICS_DIR = env.str("METRICS_DIR", default="")
# Seconds each dependency check of /readyz may take.
READY_CHECK_TIMEOUT = env.float("READY_CHECK_TIMEOUT", default=2.0)

# --- Limits per user, counted in Redis (shared by every process) ---
# Rates in the `limits` notation ("20/minute", "5 per second", several joined
# by ";"); empty turns one off. A refusal is an error in the chat (the typed
# text stays) or an API 429 with Retry-After.
WEBSOCKET_REQUEST_RATE = env.str("WEBSOCKET_REQUEST_RATE", default="300/minute")
CHAT_SEND_RATE = env.str("CHAT_SEND_RATE", default="20/minute;300/day")
CHAT_RETRY_RATE = env.str("CHAT_RETRY_RATE", default="20/minute")
IMAGE_UPLOAD_RATE = env.str("IMAGE_UPLOAD_RATE", default="60/minute")
# Per user, over all their tokens (API_RATE_LIMIT counts per token).
API_USER_RATE_LIMIT = env.str("API_USER_RATE_LIMIT", default="120/minute")
# Answers queued or being written at once per user; 0: no limit.
MAX_ACTIVE_ANSWERS_PER_USER = env.int("MAX_ACTIVE_ANSWERS_PER_USER", default=3)
# Prompt and answer tokens per user per day (midnight in TIME_ZONE); 0: none.
# Token quotas in the admin override it per user and add shared ones per group.
DAILY_TOKEN_QUOTA = env.int("DAILY_TOKEN_QUOTA", default=0)
# Where the counters live in Redis (deployments sharing one Redis keep theirs apart).
LIMITS_PREFIX = env.str("LIMITS_PREFIX", default=CHANNEL_PREFIX + ":limits")
# Largest websocket request; bigger ones get an error and the socket stays
# open (daphne's own frame limit, --websocket-max-frame-size in supervisord.conf
# and the Dockerfile, is above it).
WEBSOCKET_MAX_REQUEST_BYTES = env.int("WEBSOCKET_MAX_REQUEST_BYTES", default=200_000)
# Chat sockets (tabs, windows) one account may hold open at once; 0: no cap. A
# socket a crashed process never closed stops counting after WEBSOCKET_SLOT_SECONDS.
MAX_SOCKETS_PER_USER = env.int("MAX_SOCKETS_PER_USER", default=30)
WEBSOCKET_SLOT_SECONDS = env.int("WEBSOCKET_SLOT_SECONDS", default=24 * 3600)
# Images decoded at once in one process; one user's uploads take one slot at a time.
IMAGE_PROCESSING_SLOTS = env.int("IMAGE_PROCESSING_SLOTS", default=2)
# Hosts whose links stay clickable in rendered answers (e.g. "docs.example.com,*.example.org");
# any other link shows as text with its real host.
ANSWER_LINK_HOSTS = env.list("ANSWER_LINK_HOSTS", default=[])
# Images in one request (every turn together; each message also keeps to
# MAX_IMAGES_PER_MESSAGE), and the pixels they may add up to: both checked from
# what the images declare, before any is decoded.
API_MAX_IMAGES = env.int("API_MAX_IMAGES", default=8)
API_MAX_PIXELS = env.int("API_MAX_PIXELS", default=2 * MAX_IMAGE_PIXELS)


# === Derived from the settings above: not set on their own ===

if _proxy_header:
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + _proxy_header[0].upper().replace("-", "_"),
        _proxy_header[1] if len(_proxy_header) > 1 else "https",
    )

# Every HTML page: scripts, styles, images and connections from this site
# only; nothing inline, nothing framed (django-csp 4). Signing out through
# single sign-on is a form whose answer sends the browser on to the provider's
# end-session page: form-action allows the provider's origin too.
_provider_origin = f"{urlsplit(OIDC_ISSUER).scheme}://{urlsplit(OIDC_ISSUER).netloc}" if OIDC_ISSUER else None
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'", *([_provider_origin] if _provider_origin else [])],
        "frame-ancestors": ["'none'"],
    },
}

_database = env.db_url_config(_database_url)
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # Many worker threads write partial answers at once: WAL lets readers go on
    # while one writes, and the timeout waits for the lock instead of failing.
    _database["OPTIONS"] = {
        **_database.get("OPTIONS", {}),
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that browser tests' server process shares it.
    _database.setdefault("TEST", {"NAME": str(DATA_DIR / "test.sqlite3")})
elif _database["ENGINE"] == "django.db.backends.postgresql":
    # One process holds up to a few hundred streams in threads; a pool shares
    # a handful of connections between them instead of one each.
    _database["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": DATABASE_POOL_TIMEOUT,
            # The pool reconnects with a doubling pause that has no ceiling of
            # its own (a 75 s outage left it waiting ~40 s after the database
            # was back); giving up after 10 s starts the next attempt afresh at 1 s.
            "reconnect_timeout": 10.0,
        },
        **_database.get("OPTIONS", {}),
    }
DATABASES = {
    # After a database restart every connection kept is dead: test each one before
    # use (with the pool, Django gives it psycopg_pool's check_connection) instead
    # of failing the request or the worker's save that draws it.
    "default": {**_database, "CONN_HEALTH_CHECKS": True},
}

PASSWORD_RESET_ENABLED = bool(EMAIL_URL)
if EMAIL_URL:
    _email = env.email_url_config(EMAIL_URL)
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"]
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)

# An accepted image stays in memory (no temporary file); the request body may
# be as large as one image plus its multipart envelope.
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_IMAGE_BYTES
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_IMAGE_BYTES + 64 * 1024

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [redis_host(REDIS_URL)],
            "prefix": CHANNEL_PREFIX,
        },
    }
}
CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport, kept running while Redis is full (see chatapp.ops.broker).
CELERY_BROKER_TRANSPORT = "chatapp.ops.broker:Transport" if urlsplit(REDIS_URL).scheme in ("redis", "rediss") else None
CELERY_BEAT_SCHEDULE = {
    "reap-answers": {
        "task": "chatapp.chat.tasks.reap_answers",
        "schedule": REAPER_INTERVAL,
        "options": {"expires": REAPER_INTERVAL},
    },
    **(
        {"purge-old-conversations": {"task": "chatapp.review.tasks.purge_old_conversations", "schedule": 24 * 3600}}
        if PURGE_CONVERSATIONS_AFTER_DAYS > 0
        else {}
    ),
}

if METRICS_DIR and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    # Read by prometheus_client when first imported, after these settings.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(METRICS_DIR) / socket.gethostname())
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
