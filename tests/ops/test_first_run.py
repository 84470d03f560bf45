"""A first `make run`: the address and the admin's sign-in come last and stay in view."""

import io
import logging
from configparser import RawConfigParser

import pytest
from django.core.management import call_command

from tests.support.processes import ROOT, serve_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(transactional_db, redis_service):
    with serve_app() as url:
        yield url


def test_the_welcome_prints_the_address_and_the_admin_password_once_the_chat_answers(served, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("ensure_admin", stdout=io.StringIO())  # before the processes start: creates the admin
    password = (tmp_path / "admin-password.txt").read_text().strip()

    printed = io.StringIO()
    call_command("ensure_admin", welcome=served, timeout=10, stdout=printed)
    lines = printed.getvalue().splitlines()
    assert f"The chat is ready: open {served}" in lines[1]
    assert f"Sign in as admin with the password {password}" in lines[2]


def test_periodic_tasks_and_requests_print_nothing_by_default():
    # Celery's line per task received and succeeded (the reaper runs every few seconds).
    for name in ("celery.app.trace", "celery.worker.strategy"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    # daphne's access log only with ACCESS_LOG set.
    config = RawConfigParser()
    config.read(ROOT / "supervisord.conf")
    web = config.get("program:web", "command")
    assert "--verbosity 0" in web and "${ACCESS_LOG:+--access-log -}" in web
    assert int(config.get("program:welcome", "priority")) > int(config.get("program:web", "priority"))
