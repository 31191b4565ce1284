"""Start the Microsoft 365 stand-in and drive its control API, for tests and the demo.

    with MicrosoftProcess() as process:
        control = process.control()
        directory = control.directory_create(name="Contoso", domain="contoso.example")

Only ``requests``, the local-server launcher of ``devservers`` and ``sandbox.process``
(what both stand-ins' launchers share) are used, over HTTP;
nothing here imports the stand-in's server code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import requests

from devservers.process import ServerStartError, free_port
from sandbox.process import ControlClient, ControlError, StandInProcess

__all__ = ["MicrosoftControl", "MicrosoftControlError", "MicrosoftProcess", "MicrosoftStartError"]

DEMO_CLIENT_ID = "synchronizer-demo-graph"
DEMO_CLIENT_SECRET = "synchronizer-demo-graph-secret"  # noqa: S105 - the published demo app
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class MicrosoftStartError(ServerStartError):
    """The stand-in did not become ready; the message includes its output."""


class MicrosoftProcess(StandInProcess):
    """``python -m sandbox.microsoft`` on two free ports with its own data directory."""

    label = "The Microsoft 365 stand-in"
    log_name = "microsoft.log"
    start_error = MicrosoftStartError

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        tls_port: int | None = None,
        data_dir: Path | None = None,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(host=host, port=port, data_dir=data_dir, ready_timeout=ready_timeout)
        self.tls_port = tls_port or free_port(host=host)
        self.client_id = client_id
        self.client_secret = client_secret

    @property
    def graph_url(self) -> str:
        return self.base_url

    @property
    def login_url(self) -> str:
        return f"https://{self.host}:{self.tls_port}"

    @property
    def ca_bundle(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "sandbox.microsoft", "--host", self.host,
                "--port", str(self.port), "--tls-port", str(self.tls_port),
                "--data-dir", str(self.data_dir), "--quiet"]  # fmt: skip

    def environment(self) -> dict[str, str]:
        environment = super().environment()
        environment["MICROSOFT_CLIENT_ID"] = self.client_id
        environment["MICROSOFT_CLIENT_SECRET"] = self.client_secret
        return environment

    def control(self) -> MicrosoftControl:
        return MicrosoftControl(base_url=self.graph_url)

    def app_token_answer(self, *, tenant: str, timeout: float = 30.0) -> requests.Response:
        """The token endpoint's answer to the app's client-credentials request for Graph in
        directory `tenant` (an access token once the app is consented there)."""
        return requests.post(
            f"{self.login_url}/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": GRAPH_SCOPE,
            },
            verify=str(self.ca_bundle),
            timeout=timeout,
        )


class MicrosoftControlError(ControlError):
    """The control API refused a request; the message is the stand-in's."""


class MicrosoftControl(ControlClient):
    """A typed client for the stand-in's ``/_sandbox/`` API."""

    error = MicrosoftControlError

    def reset(self) -> None:
        self.call(method="POST", path="reset")

    # directories and users
    def directory_create(self, *, name: str, domain: str) -> str:
        """Create a directory (tenant); return its id."""
        result = self.call(method="POST", path="directories", body={"name": name, "domain": domain})
        return str(result["id"])

    def directories(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call(method="GET", path="directories")
        return result

    def user_create(
        self, *, directory_id: str, display_name: str, mail: str, is_admin: bool = False
    ) -> dict[str, Any]:
        """Create a user (``userPrincipalName`` = mail); return it as Graph shows it."""
        result: dict[str, Any] = self.call(
            method="POST",
            path=f"directories/{directory_id}/users",
            body={"displayName": display_name, "mail": mail, "isAdmin": is_admin},
        )
        return result

    def consent_set(self, *, directory_id: str, granted: bool = True) -> None:
        self.call(
            method="POST", path=f"directories/{directory_id}/consent", body={"granted": granted}
        )

    def grant_revoke(self, *, user_id: str) -> None:
        self.call(method="POST", path=f"users/{user_id}/grants/revoke")

    def token_lifetime_set(self, *, seconds: int) -> None:
        self.call(method="POST", path="tokens", body={"lifetime": seconds})

    # mailboxes
    def contacts_of(self, *, user: str) -> list[dict[str, Any]]:
        """Every contact in the mailbox (user id or mail): ``folder`` (None: the default
        folder), all properties and ``singleValueExtendedProperties``."""
        result: list[dict[str, Any]] = self.call(method="GET", path=f"mailboxes/{user}/contacts")
        return result

    def contact_add(
        self, *, user: str, folder: str | None = None, **properties: Any
    ) -> dict[str, Any]:
        """A contact made "in Outlook" (foreign, or a copy with our extended property)."""
        result: dict[str, Any] = self.call(
            method="POST", path=f"mailboxes/{user}/contacts", body={"folder": folder, **properties}
        )
        return result

    def contact_edit(self, *, user: str, contact_id: str, **properties: Any) -> dict[str, Any]:
        """An edit in Outlook: the changeKey changes."""
        result: dict[str, Any] = self.call(
            method="PATCH", path=f"mailboxes/{user}/contacts/{contact_id}", body=properties
        )
        return result

    def contact_delete(self, *, user: str, contact_id: str) -> None:
        self.call(method="DELETE", path=f"mailboxes/{user}/contacts/{contact_id}")

    # throttling, delta, stats, faults
    def throttling_set(
        self, *, concurrency: int | None = None, budget: int | None = None,
        window_seconds: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        changes = {"concurrency": concurrency, "budget": budget, "window_seconds": window_seconds}
        result: dict[str, Any] = self.call(
            method="POST", path="throttling",
            body={key: value for key, value in changes.items() if value is not None},
        )  # fmt: skip
        return result

    def delta_expire(self) -> None:
        self.call(method="POST", path="delta/expire")

    def stats(self) -> dict[str, Any]:
        """``mailboxes`` (per mail: requests, throttled, max_concurrent, requests_in_window),
        ``requests``, ``without_immutable_id``, ``batches``, ``largest_batch``, ``statuses``."""
        result: dict[str, Any] = self.call(method="GET", path="stats")
        return result

    def stats_clear(self) -> None:
        self.call(method="POST", path="stats/clear")

    def fault_add(
        self, *, path_contains: str = "", method: str | None = None, status: int | None = None,
        times: int | None = None, retry_after: int | None = None, kind: str | None = None,
        latency_ms: int | None = None, code: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """E.g. ``status=503, times=2, retry_after=1``; ``kind="lose_response"``;
        ``latency_ms=300`` (kind latency)."""
        spec = {"path_contains": path_contains, "method": method, "status": status,
                "times": times, "retry_after": retry_after, "kind": kind,
                "latency_ms": latency_ms, "code": code}  # fmt: skip
        result: dict[str, Any] = self.call(
            method="POST", path="faults",
            body={key: value for key, value in spec.items() if value is not None},
        )  # fmt: skip
        return result

    def faults_clear(self) -> None:
        self.call(method="DELETE", path="faults")
