"""/healthz says the process is up; /readyz says whether this web process can serve and, apart, whether the model answers."""

import pytest

from tests.support.processes import free_port

pytestmark = pytest.mark.django_db


def test_healthz_answers_whatever_host_name_the_probe_uses(client):
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_redis_and_the_model_with_timings(client, vllm_stand_in):
    response = client.get("/readyz", HTTP_HOST="chat-web-1:8000")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["serving"], body["model"]) == ("ok", True, "ready")
    assert set(body["checks"]) == {"database", "redis", "model"}
    for check in body["checks"].values():
        assert check["ok"] is True and isinstance(check["ms"], int | float)


def test_a_model_that_is_loading_leaves_the_web_service_in_rotation(client, vllm_stand_in):
    vllm_stand_in.configure(loading=True)
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["serving"], body["model"]) == ("ok", True, "unavailable")
    assert "503" in body["checks"]["model"]["error"]


def test_a_model_service_that_is_down_is_named_but_the_web_service_stays_ready(client, settings):
    settings.INFERENCE_URL = f"http://127.0.0.1:{free_port()}/v1"
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "unavailable" and "ConnectError" in body["checks"]["model"]["error"]
    assert body["checks"]["database"]["ok"] is True and body["checks"]["redis"]["ok"] is True


def test_an_endpoint_serving_another_model_is_not_ready(client, settings, vllm_stand_in):
    settings.INFERENCE_MODEL = "mistralai/Ministral-3-3B-Instruct-2512"
    body = client.get("/readyz").json()
    assert body["model"] == "unavailable" and "not among the served models" in body["checks"]["model"]["error"]


def test_readyz_is_503_naming_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["serving"] is False and response.json()["checks"]["redis"]["ok"] is False


def test_outside_the_metrics_audience_readyz_gives_no_details(client, settings, vllm_stand_in):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    body = client.get("/readyz").json()
    assert body == {"status": "ok", "serving": True, "model": "ready"}

    with_token = client.get("/readyz", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").json()
    assert set(with_token["checks"]) == {"database", "redis", "model"}
