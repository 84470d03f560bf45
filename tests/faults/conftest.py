"""The fault suite: real processes, really broken. Run it with `make faults`.

A private PostgreSQL cluster (initdb under a temporary directory, on the port
of DATABASE_URL, which `make faults` picks free), a private Redis, the fake
engine, and the worker, beat and daphne under supervisor with the project's
supervisord.conf. Every test prints how long recovery took.
"""

import os
import time

import pytest
from django.conf import settings

from tests.faults.browser import Browser
from tests.faults.services import (
    PostgresCluster,
    RedisServer,
    SharedServerOutage,
    SupervisedApp,
    postgres_answers,
    postgres_bindir,
)
from tests.support.accounts import FAST_HASHERS
from tests.support.processes import database_url

# The shipped defaults, but for one shortening so the suite takes minutes: a
# stopping worker has 5 s. The engine's timeouts and the database pool's wait
# are the defaults: what the suite measures is what users get.
APP_ENV = {
    "INFERENCE_MODEL": "relay-bench",
    "WORKER_SHUTDOWN_GRACE": "5",
    # Six at once: five healthy answers beside a poisoned one.
    "CELERY_CONCURRENCY": "6",
    "CHANNEL_PREFIX": "faults",
    "CELERY_QUEUE": "faults",
    "LOG_LEVEL": "WARNING",
    # The tests ask several answers at once as one user: the per-user limit is not under test here.
    "MAX_ACTIVE_ANSWERS_PER_USER": "50",
}


@pytest.fixture(scope="session")
def postgres_cluster():
    """A private cluster on DATABASE_URL's port when the machine has PostgreSQL's
    server binaries; otherwise (a server already there) outages of the test
    database on that shared server."""
    db = settings.DATABASES["default"]
    assert db["ENGINE"].endswith("postgresql") and db["HOST"] in ("127.0.0.1", "localhost"), (
        "run the fault suite with `make faults`: it needs DATABASE_URL on a local PostgreSQL port"
    )
    port = int(db["PORT"])
    if postgres_answers(port):
        print(f"\n[faults] a PostgreSQL server answers on {port}: outages of the test database on it")
        yield SharedServerOutage(db)
        return
    assert postgres_bindir(), "no PostgreSQL server binaries (initdb, pg_ctl) and no server on DATABASE_URL's port"
    cluster = PostgresCluster(port)
    cluster.create()
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def django_db_setup(postgres_cluster, django_db_setup):
    """pytest-django's test database, created on the private cluster."""
    yield


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def app(django_db_setup, django_db_blocker, redis_server, fake_engine):
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        **APP_ENV,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_server.url,
        "INFERENCE_URL": fake_engine.base_url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PASSWORD_HASHERS": ",".join(FAST_HASHERS),
        # The test process signs the sessions the browsers use: the app must share its key.
        "SECRET_KEY": settings.SECRET_KEY,
    }
    started = time.monotonic()
    supervised = SupervisedApp(env)
    print(f"\n[faults] worker, beat and daphne up under supervisor in {time.monotonic() - started:.1f} s")
    yield supervised
    log = supervised.log_text()
    supervised.close()
    if "Unrecoverable error" in log:
        print(log[-5000:])


@pytest.fixture
def stack(app, transactional_db):
    yield app


@pytest.fixture
def browser_for(stack):
    opened = []

    def open_browser(user):
        browser = Browser(stack.url, user)
        opened.append(browser)
        return browser

    yield open_browser
    for browser in opened:
        browser.close()
