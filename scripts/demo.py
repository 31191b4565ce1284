"""Starts the whole demo on this machine and stops it on Ctrl-C.

Run through scripts/demo, which provides the virtual environment and REDIS_URL.
Ports: DEMO_WEB_PORT (8000), SANDBOX_PORT (8001), FLOWER_PORT (5555).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".demo"
PYTHON = sys.executable
OPERATOR_PASSWORD = "operator-demo"  # noqa: S105 - a local demo account, printed on screen


def _env() -> dict[str, str]:
    sandbox_port = os.environ.get("SANDBOX_PORT", "8001")
    return {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "true"),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{STATE / 'db.sqlite3'}"),
        "SUPEROFFICE_ENVIRONMENT": os.environ.get(
            "SUPEROFFICE_ENVIRONMENT", f"http://127.0.0.1:{sandbox_port}"
        ),
        "PYTHONUNBUFFERED": "1",
    }


def _wait_for(
    url: str, *, name: str, process: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} stopped while starting (exit code {process.returncode}).")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local URL
                return
        except urllib.error.HTTPError:
            return  # it answers, which is all we wait for
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{name} did not answer at {url} within {timeout:.0f} s.")


def main() -> int:
    STATE.mkdir(exist_ok=True)
    env = _env()
    web_port = os.environ.get("DEMO_WEB_PORT", "8000")
    sandbox_port = env["SUPEROFFICE_ENVIRONMENT"].rsplit(":", 1)[-1]
    flower_port = os.environ.get("FLOWER_PORT", "5555")
    manage = [PYTHON, str(REPO / "manage.py")]

    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)  # noqa: S603
    subprocess.run(  # noqa: S603
        [*manage, "shell", "-c", _OPERATOR_SNIPPET], env=env, check=True
    )

    commands: dict[str, list[str]] = {
        "web": [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"],
        "worker": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "synchronizer",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
        ],
        "beat": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "synchronizer",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(STATE / "celerybeat-schedule"),
        ],
        "flower": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "synchronizer",
            "flower",
            f"--port={flower_port}",
            "--address=127.0.0.1",
        ],
    }
    if (REPO / "sandbox" / "__main__.py").is_file():
        commands["sandbox"] = [
            PYTHON,
            "-m",
            "sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            sandbox_port,
            "--data-dir",
            str(STATE / "sandbox"),
        ]

    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, cwd=REPO, env=env)  # noqa: S603
        _wait_for(f"http://127.0.0.1:{web_port}/", name="web", process=processes["web"])
        if "sandbox" in processes:
            _wait_for(
                f"http://127.0.0.1:{sandbox_port}/login/.well-known/openid-configuration",
                name="sandbox",
                process=processes["sandbox"],
            )
        print(
            _banner(
                web_port=web_port,
                sandbox_port=sandbox_port,
                flower_port=flower_port,
                with_sandbox="sandbox" in processes,
            ),
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        stopped = [name for name, process in processes.items() if process.poll() is not None]
        print(f"Stopping the demo: {', '.join(stopped)} stopped.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


_OPERATOR_SNIPPET = f"""
from profiles.models import User
operator, _ = User.objects.get_or_create(username="operator", defaults={{"is_staff": True,
    "is_superuser": True}})
operator.set_password("{OPERATOR_PASSWORD}")
operator.save()
"""


def _banner(*, web_port: str, sandbox_port: str, flower_port: str, with_sandbox: bool) -> str:
    lines = [
        "",
        "Synchronizer demo is running. Ctrl-C stops everything.",
        f"  Synchronizer          http://127.0.0.1:{web_port}/",
        f"  Health                http://127.0.0.1:{web_port}/health/",
        f"  Django admin          http://127.0.0.1:{web_port}/django-admin/  "
        f"(operator / {OPERATOR_PASSWORD})",
        f"  Flower (Celery)       http://127.0.0.1:{flower_port}/",
    ]
    if with_sandbox:
        lines += [
            f"  SuperOffice sandbox   http://127.0.0.1:{sandbox_port}/_sandbox/admin/",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
