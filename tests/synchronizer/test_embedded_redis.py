from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from synchronizer.embedded_redis import embedded_redis_server


def test_embedded_server_answers_and_stops() -> None:
    with embedded_redis_server() as url, redis.Redis.from_url(url) as client:
        client.set("greeting", "hei")
        assert client.get("greeting") == b"hei"

    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()


def test_run_with_redis_exports_the_url_to_the_command() -> None:
    code = "import os, redis; print(redis.Redis.from_url(os.environ['REDIS_URL']).ping())"
    env = {"PATH": "/usr/bin:/bin"}

    result = subprocess.run(
        [sys.executable, "-m", "synchronizer.embedded_redis", "--", sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
