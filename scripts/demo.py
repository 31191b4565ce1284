"""Starts the whole demo on this machine and stops it on Ctrl-C.

Run through scripts/demo, which provides the virtual environment and REDIS_URL.
Ports: DEMO_WEB_PORT (8000), SANDBOX_PORT (8001), RADICALE_PORT (5232), FLOWER_PORT (5555).
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
sys.path.insert(0, str(REPO))

from devservers.radicale import RadicaleProcess  # noqa: E402 - needs the path above

STATE = REPO / ".demo"
# The sandbox's associates of Cust10001 the demo links, with their demo CardDAV passwords.
DEMO_USERS = [
    (1, "ingrid.haugen@nordlys-demo.example", "ingrid-demo", "administrator"),
    (2, "ola.berg@nordlys-demo.example", "ola-demo", "user"),
]
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
    radicale = RadicaleProcess(
        port=int(os.environ.get("RADICALE_PORT", "5232")), data_dir=STATE / "radicale"
    )
    radicale.start()
    for _, email, password, _ in DEMO_USERS:
        radicale.add_user(email, password)

    celery = [PYTHON, "-m", "celery", "-A", "synchronizer"]
    commands: dict[str, list[str]] = {
        "sandbox": [PYTHON, "-m", "sandbox", "--host", "127.0.0.1", "--port", sandbox_port,
                    "--data-dir", str(STATE / "sandbox")],
        "web": [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"],
        "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [*celery, "beat", "--loglevel", "INFO",
                 "--schedule", str(STATE / "celerybeat-schedule")],
        "flower": [*celery, "flower", f"--port={flower_port}", "--address=127.0.0.1"],
    }  # fmt: skip

    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, cwd=REPO, env=env)  # noqa: S603
        _wait_for(f"http://127.0.0.1:{web_port}/", name="web", process=processes["web"])
        _wait_for(
            f"http://127.0.0.1:{sandbox_port}/login/.well-known/openid-configuration",
            name="sandbox",
            process=processes["sandbox"],
        )
        links = [f"--link={i},{email},{password}" for i, email, password, _ in DEMO_USERS]
        subprocess.run(  # noqa: S603
            [*manage, "demo_seed", f"--superoffice-url=http://127.0.0.1:{sandbox_port}",
             f"--carddav-url={radicale.url}", *links],
            env=env,
            check=True,
        )  # fmt: skip
        banner = _banner(
            web_port=web_port,
            sandbox_port=sandbox_port,
            flower_port=flower_port,
            radicale_url=radicale.url,
        )
        print(banner, flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        stopped = [name for name, process in processes.items() if process.poll() is not None]
        print(f"Stopping the demo: {', '.join(stopped)} stopped.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        radicale.stop()
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


def _banner(*, web_port: str, sandbox_port: str, flower_port: str, radicale_url: str) -> str:
    users = "\n".join(
        f"      {email:<40} ({role}; CardDAV password {password})"
        for _, email, password, role in DEMO_USERS
    )
    return f"""
Synchronizer demo is running. Ctrl-C stops everything.

  Synchronizer          http://127.0.0.1:{web_port}/
    Click "Login with SuperOffice" and pick one of the sandbox's people:
{users}
    Their first sync starts when they sign in; watch the cards arrive in Radicale.
  Radicale (CardDAV)    {radicale_url}   (log in with the e-mail and CardDAV password)
  SuperOffice sandbox   http://127.0.0.1:{sandbox_port}/_sandbox/admin/   (change CRM data live)
  Operator console      http://127.0.0.1:{web_port}/operations/   (after the Django admin login)
  Flower (Celery)       http://127.0.0.1:{flower_port}/
  Health                http://127.0.0.1:{web_port}/health/
  Django admin          http://127.0.0.1:{web_port}/django-admin/   (operator / {OPERATOR_PASSWORD})
  Sync one user now     .venv/bin/python manage.py sync_user ingrid.haugen@nordlys-demo.example
"""


if __name__ == "__main__":
    sys.exit(main())
