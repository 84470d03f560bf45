import os
import shutil
import subprocess
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent


def test_compose_file_is_valid():
    assert shutil.which("docker-compose"), "install Debian's docker-compose (.ci/run does)"
    env = {**os.environ, "SECRET_KEY": "validation-only"}
    result = subprocess.run(["docker-compose", "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_compose_runs_ministral_with_the_mistral_formats():
    compose = (ROOT / "docker-compose.yml").read_text()
    for flag in ("mistralai/Ministral-3-3B-Instruct-2512", "--tokenizer_mode", "--config_format", "--load_format"):
        assert flag in compose
