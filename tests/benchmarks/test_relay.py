"""The relay benchmark, in its quickest form: its figures are only worth reading
if every reader ends up with exactly the engine's text."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_relay_benchmark_readers_on_both_web_processes_get_every_character(tmp_path):
    report = tmp_path / "relay.json"
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL, "PYTHONPATH": str(ROOT)}
    env.pop("BENCHMARK_DATABASE_URL", None)
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.relay",
            "--streams",
            "1",
            "--rates",
            "200",
            "--answer-tokens",
            "40",
            "--webs",
            "2",
            "--watchers",
            "1",
            "--json",
            str(report),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    rows = json.loads(report.read_text())["rows"]
    assert [row["path"] for row in rows] == ["engine direct (no app)", "app (daphne, 1 worker, 2 web)"]
    for row in rows:
        assert row["lost_or_doubled_chars"] == 0
        assert row["finished"] == row["readers"]
    assert rows[1]["readers"] == 2  # the sender on one web process, a second tab on the other
    assert "| lost/doubled chars |" in finished.stdout
