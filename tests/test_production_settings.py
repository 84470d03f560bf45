"""The production switches: a strong key or no start, and `check --deploy` clean as documented."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k" * 20 + "0123456789abcdefghijklmnopqrstuvwxyz"

# The environment the README's "Running in production" section gives.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "chat.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
    "HTTPS": "true",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
}


def manage(*args, data_dir, **env):
    base = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "key", ["insecure-development-key-change-me-in-production", "short-key", "django-insecure-" + "x" * 60, "a" * 60]
)
def test_a_weak_or_public_key_with_debug_off_refuses_to_start(tmp_path, key):
    result = manage("check", data_dir=tmp_path, DEBUG="false", SECRET_KEY=key)
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too weak for DEBUG=false" in result.stderr


def test_without_a_key_one_is_made_once_and_kept_private(tmp_path):
    first = manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)", data_dir=tmp_path)
    second = manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert len(key) >= 50 and key == second.stdout.strip().splitlines()[-1]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_check_deploy_is_clean_in_the_documented_production_environment(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", data_dir=tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_names_what_is_missing_without_https(tmp_path):
    env = {**PRODUCTION, "HTTPS": "false"}
    result = manage("check", "--deploy", data_dir=tmp_path, **env)
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= set(
        re.findall(r"security\.W\d+", result.stdout + result.stderr)
    )


def test_the_readme_documents_every_production_setting():
    readme = (ROOT / "README.md").read_text()
    assert "## Running in production" in readme
    for name in [
        *PRODUCTION,
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_PRELOAD",
        "AXES_FAILURE_LIMIT",
        "ANSWER_LINK_HOSTS",
        "CHAT_SEND_RATE",
        "MAX_ACTIVE_ANSWERS_PER_USER",
        "DAILY_TOKEN_QUOTA",
        "EMAIL_URL",
    ]:
        assert f"`{name}`" in readme, name
