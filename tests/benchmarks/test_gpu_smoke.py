"""The GPU smoke check runs end to end against the fake engine, so it is ready the day a GPU host is."""

import subprocess
import sys

from tests.support.processes import ROOT


def test_the_smoke_check_prints_every_figure_against_the_fake_engine(fake_engine_process):
    fake_engine_process.reset()
    fake_engine_process.configure(max_num_seqs=8)
    restart = f"{sys.executable} -c \"import httpx; httpx.post('{fake_engine_process.url}/fake/restart', json={{'down_for': 2}})\""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.gpu_smoke",
            "--base-url",
            fake_engine_process.base_url,
            "--streams",
            "24",
            "--question",
            "seed=1 tokens=20 rate=200",
            "--long-question",
            "seed=2 tokens=400 rate=40",
            "--first-token-timeout",
            "30",
            "--restart-command",
            restart,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr[-3000:]
    assert "start to healthy:" in out and "serving ministral-stand-in" in out
    assert "prompt tokens, CJK history: endpoint" in out
    assert "prompt tokens, four" in out and "images: endpoint" in out
    assert "24 parallel streams" in out and "24 done" in out
    assert "time to first token: p50" in out
    assert "restart mid-answer: the open answer ended" in out and "answering again" in out
