"""/healthz says the process is up; /readyz says which dependency answers, and how fast."""

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.django_db


def test_healthz_answers_whatever_host_name_the_probe_uses(client):
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_redis_and_the_model_with_timings(client, model_service):
    response = client.get("/readyz", HTTP_HOST="chat-web-1:8000")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "model"}
    for check in body["checks"].values():
        assert check["ok"] is True and isinstance(check["ms"], int | float)


def test_readyz_is_503_naming_the_model_service_when_it_is_down(client, settings):
    settings.INFERENCE_URL = f"http://127.0.0.1:{free_port()}/v1"
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["model"]["ok"] is False and "ConnectError" in checks["model"]["error"]
    assert checks["database"]["ok"] is True and checks["redis"]["ok"] is True


def test_readyz_is_503_naming_redis_when_it_is_down(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
