"""The compose file as docker-compose itself reads it: services, profiles, healthchecks, start order."""

import functools
import os
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Services that run on a plain `docker compose up`, and those a profile adds.
APP_SERVICES = {"postgres", "redis", "migrate", "web", "worker", "beat"}
PROFILES = {"vllm": ["gpu"], "inference-cpu": ["cpu"], "embeddings": ["embeddings"]}
# Services that must report their health (others wait on it, or an operator does).
HEALTHCHECKED = {"postgres", "redis", "vllm"}


def run_compose(*args, **env):
    assert shutil.which("docker-compose"), "install Debian's docker-compose (.ci/run does)"
    return subprocess.run(
        ["docker-compose", *args], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


@functools.cache
def services():
    result = run_compose("config", SECRET_KEY="validation-only")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_compose_file_is_valid_and_needs_a_secret_key():
    assert services()
    refused = run_compose("config", "-q", SECRET_KEY="")
    assert refused.returncode != 0 and "set SECRET_KEY" in refused.stderr


def test_the_app_runs_without_a_profile_and_each_model_server_has_its_own():
    assert {name for name, service in services().items() if not service.get("profiles")} == APP_SERVICES
    assert {name: service["profiles"] for name, service in services().items() if service.get("profiles")} == PROFILES


def test_what_others_wait_on_reports_its_health():
    found = services()
    assert HEALTHCHECKED <= {name for name, service in found.items() if "healthcheck" in service}
    for name, service in found.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in found[dependency], (name, dependency)
            elif condition["condition"] == "service_completed_successfully":
                assert found[dependency]["restart"] == "no", (name, dependency)


def test_web_and_worker_start_after_the_migrations_on_healthy_stores():
    found = services()
    for name in ("web", "worker", "beat"):
        assert found[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for store in ("postgres", "redis"):
        assert found["migrate"]["depends_on"][store] == {"condition": "service_healthy"}


def test_compose_runs_ministral_with_the_mistral_formats():
    command = services()["vllm"]["command"]
    assert command[0] == "mistralai/Ministral-3-3B-Instruct-2512"
    for flag in ("--tokenizer_mode", "--config_format", "--load_format"):
        assert command[command.index(flag) + 1] == "mistral"
