"""Starts the whole demo on this machine and stops it on Ctrl-C.

Run through scripts/demo, which provides the virtual environment and REDIS_URL.
Ports: DEMO_WEB_PORT (8000), SANDBOX_PORT (8001), RADICALE_PORT (5232), FLOWER_PORT (5555),
MICROSOFT_PORT (8002: Graph, pages, admin page) and MICROSOFT_TLS_PORT (8443: sign-in).
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
from sandbox.microsoft.testing import (  # noqa: E402 - the demo's stand-in, not product code
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    MicrosoftControl,
    MicrosoftProcess,
)

STATE = REPO / ".demo"
# The sandbox's associates of Cust10001 the demo links, with their demo CardDAV passwords.
DEMO_USERS = [
    (1, "ingrid.haugen@nordlys-demo.example", "ingrid-demo", "administrator"),
    (2, "ola.berg@nordlys-demo.example", "ola-demo", "user"),
]
# The second profile's Microsoft 365 organisation, in the stand-in: associates of Cust10001
# the CardDAV profile does not link. Kari is also the organisation's Microsoft administrator,
# who accepts the admin consent. (display name, e-mail, Microsoft administrator)
MICROSOFT_DIRECTORY = ("Nordlys", "nordlys-demo.example")
MICROSOFT_USERS = [
    ("Kari Lie", "kari.lie@nordlys-demo.example", True),
    ("Maja Nilsen", "maja.nilsen@nordlys-demo.example", False),
]
MICROSOFT_PROFILE = "Nordlys 365"
PYTHON = sys.executable
OPERATOR_PASSWORD = "operator-demo"  # noqa: S105 - a local demo account, printed on screen


def _microsoft_ports() -> tuple[int, int]:
    return int(os.environ.get("MICROSOFT_PORT", "8002")), int(
        os.environ.get("MICROSOFT_TLS_PORT", "8443")
    )


def _microsoft_client() -> tuple[str, str]:
    """The app the stand-in registers and the product uses: the same pair for both."""
    return (
        os.environ.get("MICROSOFT_CLIENT_ID") or DEMO_CLIENT_ID,
        os.environ.get("MICROSOFT_CLIENT_SECRET") or DEMO_CLIENT_SECRET,
    )


def _env() -> dict[str, str]:
    sandbox_port = os.environ.get("SANDBOX_PORT", "8001")
    microsoft_port, microsoft_tls_port = _microsoft_ports()
    client_id, client_secret = _microsoft_client()
    return {
        **os.environ,
        "DEBUG": os.environ.get("DEBUG", "true"),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{STATE / 'db.sqlite3'}"),
        "SUPEROFFICE_ENVIRONMENT": os.environ.get(
            "SUPEROFFICE_ENVIRONMENT", f"http://127.0.0.1:{sandbox_port}"
        ),
        # Microsoft 365 is the local stand-in, whose sign-in is HTTPS with its own certificate.
        "MICROSOFT_CLIENT_ID": client_id,
        "MICROSOFT_CLIENT_SECRET": client_secret,
        "MICROSOFT_LOGIN_URL": f"https://127.0.0.1:{microsoft_tls_port}",
        "MICROSOFT_GRAPH_URL": f"http://127.0.0.1:{microsoft_port}",
        "MICROSOFT_CA_BUNDLE": str(STATE / "microsoft" / "tls" / "cert.pem"),
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
    microsoft_port, microsoft_tls_port = _microsoft_ports()
    client_id, client_secret = _microsoft_client()
    microsoft = MicrosoftProcess(
        port=microsoft_port,
        tls_port=microsoft_tls_port,
        data_dir=STATE / "microsoft",
        client_id=client_id,
        client_secret=client_secret,
    )

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
        microsoft.start()
        _microsoft_directory_seed(microsoft.control())
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
             f"--carddav-url={radicale.url}", *links,
             f"--microsoft-profile={MICROSOFT_PROFILE}"],
            env=env,
            check=True,
        )  # fmt: skip
        banner = _banner(
            web_port=web_port,
            sandbox_port=sandbox_port,
            flower_port=flower_port,
            radicale_url=radicale.url,
            microsoft_url=microsoft.graph_url,
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
        microsoft.stop()
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _microsoft_directory_seed(control: MicrosoftControl) -> None:
    """The organisation and its users in the stand-in, once: its data outlives a restart."""
    name, domain = MICROSOFT_DIRECTORY
    existing = next((d for d in control.directories() if d["domain"] == domain), None)
    directory_id = (
        existing["id"] if existing else control.directory_create(name=name, domain=domain)
    )
    present = {user["mail"].casefold() for user in (existing or {}).get("users", [])}
    for display_name, mail, is_admin in MICROSOFT_USERS:
        if mail.casefold() not in present:
            control.user_create(
                directory_id=directory_id, display_name=display_name, mail=mail, is_admin=is_admin
            )


_OPERATOR_SNIPPET = f"""
from profiles.models import User
operator, _ = User.objects.get_or_create(username="operator", defaults={{"is_staff": True,
    "is_superuser": True}})
operator.set_password("{OPERATOR_PASSWORD}")
operator.save()
"""


def _banner(
    *, web_port: str, sandbox_port: str, flower_port: str, radicale_url: str, microsoft_url: str
) -> str:
    users = "\n".join(
        f"      {email:<40} ({role}; CardDAV password {password})"
        for _, email, password, role in DEMO_USERS
    )
    # Two lines: what to click for the Microsoft 365 profile.
    connect = (
        f"Ingrid: Profiles > {MICROSOFT_PROFILE} > Connect Microsoft 365 organisation > "
        "Accept > Sign in > Link Users > Link all matching"
    )
    first_run = (
        f"Sign out, sign in as {MICROSOFT_USERS[0][1]} (her first run); "
        "change a preference in Open my sync"
    )
    return f"""
Synchronizer demo is running. Ctrl-C stops everything.

  Synchronizer          http://127.0.0.1:{web_port}/
    Click "Login with SuperOffice" and pick one of the sandbox's people:
{users}
    Their first sync starts when they sign in; watch the cards arrive in Radicale.
  Microsoft 365 stand-in {microsoft_url}/_sandbox/admin/   (consent, mailboxes, contacts)
    {connect}
    {first_run}
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
