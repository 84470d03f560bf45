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
def services(**env):
    result = run_compose("config", SECRET_KEY="validation-only", **env)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def argument(command, flag):
    return command[command.index(flag) + 1]


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
        assert argument(command, flag) == "mistral"


def test_each_limit_is_one_variable_that_the_app_and_vllm_both_follow():
    found = services(
        INFERENCE_MODEL="mistralai/Other-Model",
        INFERENCE_CONTEXT_TOKENS="16384",
        INFERENCE_MAX_IMAGES="2",
        MAX_CONCURRENT_ANSWERS="64",
    )
    vllm, app, worker = found["vllm"]["command"], found["web"]["environment"], found["worker"]["command"]
    assert vllm[0] == app["INFERENCE_MODEL"] == "mistralai/Other-Model"
    assert argument(vllm, "--max-model-len") == app["INFERENCE_CONTEXT_TOKENS"] == "16384"
    assert argument(vllm, "--limit-mm-per-prompt") == '{"image": 2}' and app["INFERENCE_MAX_IMAGES"] == "2"
    assert argument(vllm, "--max-num-seqs") == argument(worker, "--concurrency") == "64"


def test_the_default_deployment_samples_as_mistral_recommends_and_waits_for_a_loading_model():
    app = services()["web"]["environment"]
    assert float(app["INFERENCE_TEMPERATURE"]) < 0.1
    assert float(app["INFERENCE_READ_TIMEOUT"]) < 30 < float(app["INFERENCE_FIRST_TOKEN_TIMEOUT"])
    # Questions asked while vLLM starts wait for it, longer than its health check allows for loading.
    assert float(app["ANSWER_QUEUE_TIMEOUT"]) >= 600


def test_vllm_restarts_well_from_its_volume_behind_a_key():
    vllm = services(INFERENCE_API_KEY="a-long-key", HF_HUB_OFFLINE="1")["vllm"]
    assert str(vllm["healthcheck"]["start_period"]).startswith("20m")
    environment = vllm["environment"]
    assert environment["VLLM_CACHE_ROOT"].startswith(environment["HF_HOME"])
    assert any(environment["HF_HOME"] in str(volume) for volume in vllm["volumes"])
    assert environment["HF_HUB_OFFLINE"] == "1"
    assert environment["INFERENCE_API_KEY"] == "a-long-key"
    assert "--api-key" in " ".join(vllm["entrypoint"]) and "exit 1" in " ".join(vllm["entrypoint"])
    assert argument(vllm["command"], "--scheduling-policy") == "priority"
    assert int(services()["web"]["environment"]["INFERENCE_TITLE_PRIORITY"]) > 0


def test_the_web_service_stays_in_rotation_while_the_model_loads():
    test = " ".join(services()["web"]["healthcheck"]["test"])
    assert "/readyz" in test and "/readyz?" not in test  # readyz is 200 whenever this process can serve
