"""The compose file and supervisor use the probes, restart what dies and give the worker its grace."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_compose_checks_web_readiness_and_worker_health_and_waits_for_the_worker_to_stop():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "http://127.0.0.1:8000/readyz" in compose
    assert "celery -A chatapp inspect ping --destination celery@$$HOSTNAME" in compose
    assert "stop_grace_period: 30s" in compose and "WORKER_SHUTDOWN_GRACE: ${WORKER_SHUTDOWN_GRACE:-20}" in compose
    assert compose.count("restart: unless-stopped") >= 3


def test_supervisor_restarts_every_program_and_outwaits_the_worker_grace():
    config = configparser.RawConfigParser()
    config.read(ROOT / "supervisord.conf")
    programs = [section for section in config.sections() if section.startswith("program:")]
    assert {"program:worker", "program:beat", "program:web", "program:inference", "program:redis"} <= set(programs)
    for program in programs:
        if program != "program:welcome":  # prints the address once, then is done
            assert config.get(program, "autorestart") == "true"
    assert int(config.get("program:worker", "stopwaitsecs")) > 20
