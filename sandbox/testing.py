"""Start a sandbox process and drive its control API, for tests, benchmarks and the demo.

    with SandboxProcess() as process:
        control = process.control()
        control.reset()
        control.set_faults(fail_next=[503])

Only the standard library, ``requests``, the local-server launcher of ``devservers`` and
``sandbox.process`` (what both stand-ins' launchers share) are used, over HTTP; nothing
here imports the sandbox's server code, so a test process stays independent of the server
process.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from devservers.process import ServerStartError, free_port
from sandbox.process import ControlClient, ControlError, StandInProcess

__all__ = ["SandboxControl", "SandboxProcess", "SandboxStartError", "free_port", "sign_in"]


class SandboxStartError(ServerStartError):
    """The sandbox process did not become ready; the message includes its output."""


class SandboxProcess(StandInProcess):
    """``python -m sandbox`` on a free port with its own data directory."""

    label = "The sandbox"
    log_name = "sandbox.log"
    start_error = SandboxStartError

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        data_dir: Path | None = None,
        persons: int | None = None,
        clients_json: str | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(host=host, port=port, data_dir=data_dir, ready_timeout=ready_timeout)
        self.persons = persons
        self.clients_json = clients_json

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "sandbox", "--host", self.host, "--port", str(self.port),
                   "--data-dir", str(self.data_dir)]  # fmt: skip
        if self.persons is not None:
            command += ["--persons", str(self.persons)]
        return command

    def environment(self) -> dict[str, str]:
        environment = super().environment()
        if self.clients_json is not None:
            environment["SANDBOX_CLIENTS"] = self.clients_json
        return environment

    def control(self) -> SandboxControl:
        return SandboxControl(base_url=self.base_url)


class SandboxControlError(ControlError):
    """The control API refused a request; the message is the sandbox's."""


class SandboxControl(ControlClient):
    """A typed client for ``/_sandbox/``: reset, faults, data changes, request counts."""

    error = SandboxControlError

    # state
    def reset(self, *, persons: int | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            method="POST", path="reset", body={"persons": persons} if persons else {}
        )
        return result

    def associates(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call(method="GET", path="associates")
        return result

    # faults
    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call(method="GET", path="faults")
        return result

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """E.g. ``latency_ms=200``, ``error_rate=0.3``, ``fail_next=[429, 503]``,
        ``retry_after_seconds=1``, ``access_token_lifetime=2``, ``random_seed=7``."""
        result: dict[str, Any] = self.call(method="POST", path="faults", body=changes)
        return result

    def clear_faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call(method="DELETE", path="faults")
        return result

    def expire_tokens(self) -> None:
        self.call(method="POST", path="tokens/expire")

    def move_tenant(self, *, tenant: str, host: str | None = None) -> str:
        result = self.call(
            method="POST", path=f"tenants/{tenant}/move", body={"host": host} if host else {}
        )
        return str(result["host"])

    def set_maintenance(self, *, tenant: str, on: bool = True) -> None:
        self.call(method="POST", path=f"tenants/{tenant}/maintenance", body={"on": on})

    def revoke_consent(
        self, *, tenant: str, associate_id: int, client_id: str | None = None
    ) -> None:
        body: dict[str, Any] = {"tenant": tenant, "associate_id": associate_id}
        if client_id:
            body["client_id"] = client_id
        self.call(method="POST", path="consent/revoke", body=body)

    # request counts
    def request_counts(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call(method="GET", path="requests")
        return result

    def clear_request_counts(self) -> None:
        self.call(method="DELETE", path="requests")

    # data changes
    def set_favourite(
        self, *, tenant: str, associate_id: int, kind: str, record_id: int, favourite: bool = True
    ) -> bool:
        result = self.call(
            method="POST",
            path="favourites",
            body={
                "tenant": tenant,
                "associate_id": associate_id,
                "kind": kind,
                "record_id": record_id,
                "favourite": favourite,
            },
        )
        return bool(result["changed"])

    def add_selection_member(
        self,
        *,
        tenant: str,
        selection_id: int,
        person_id: int | None = None,
        contact_id: int | None = None,
    ) -> bool:
        return self.change_selection_member(
            action="add",
            tenant=tenant,
            selection_id=selection_id,
            person_id=person_id,
            contact_id=contact_id,
        )

    def remove_selection_member(
        self,
        *,
        tenant: str,
        selection_id: int,
        person_id: int | None = None,
        contact_id: int | None = None,
    ) -> bool:
        return self.change_selection_member(
            action="remove",
            tenant=tenant,
            selection_id=selection_id,
            person_id=person_id,
            contact_id=contact_id,
        )

    def change_selection_member(
        self,
        *,
        action: str,
        tenant: str,
        selection_id: int,
        person_id: int | None,
        contact_id: int | None,
    ) -> bool:
        result = self.call(
            method="POST",
            path=f"selections/{selection_id}/members/{action}",
            body={"tenant": tenant, "person_id": person_id, "contact_id": contact_id},
        )
        return bool(result["changed"])

    def set_selection_type(self, *, tenant: str, selection_id: int, selection_type: str) -> None:
        self.call(
            method="POST",
            path=f"selections/{selection_id}/type",
            body={"tenant": tenant, "selection_type": selection_type},
        )

    def delete_selection(self, *, tenant: str, selection_id: int) -> None:
        self.call(method="DELETE", path=f"selections/{selection_id}", body={"tenant": tenant})

    def set_retired(self, *, tenant: str, person_id: int, retired: bool = True) -> None:
        self.call(
            method="POST",
            path=f"persons/{person_id}/retire",
            body={"tenant": tenant, "retired": retired},
        )

    def edit_person(self, *, tenant: str, person_id: int, **fields: Any) -> list[str]:
        """Fields: firstName, middleName, lastName, mrMrs, title, email, officePhone,
        mobilePhone, privatePhone, birthDate, contactId."""
        result = self.call(
            method="PATCH", path=f"persons/{person_id}", body={"tenant": tenant, **fields}
        )
        return list(result["changed"])

    def create_appointment(
        self,
        *,
        tenant: str,
        associate_id: int,
        start: str,
        person_id: int = 0,
        title: str = "Sandbox appointment",
        participant_associate_ids: tuple[int, ...] = (),
        participant_person_ids: tuple[int, ...] = (),
    ) -> int:
        result = self.call(
            method="POST",
            path="appointments",
            body={
                "tenant": tenant,
                "associate_id": associate_id,
                "person_id": person_id,
                "start": start,
                "title": title,
                "participant_associate_ids": list(participant_associate_ids),
                "participant_person_ids": list(participant_person_ids),
            },
        )
        return int(result["appointment_id"])

    def delete_appointment(self, *, tenant: str, appointment_id: int) -> int:
        result = self.call(
            method="DELETE", path=f"appointments/{appointment_id}", body={"tenant": tenant}
        )
        return int(result["deleted_rows"])


DEMO_CLIENT_ID = "synchronizer-demo"
DEMO_CLIENT_SECRET = "synchronizer-demo-secret"  # noqa: S105 - the sandbox's published demo client
DEFAULT_REDIRECT_URI = "http://127.0.0.1:9/callback"


def sign_in(
    *,
    base_url: str,
    email: str,
    tenant: str | None = None,
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str = DEMO_CLIENT_SECRET,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
) -> dict[str, Any]:
    """Run the whole code flow (with PKCE S256) for one associate; return the token answer.

    ``login_hint`` (and ``acr_values=tenant:…`` when given) makes the sandbox skip its
    login pages, so no browser is needed.
    """
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        "login_hint": email,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if tenant:
        params["acr_values"] = f"tenant:{tenant}"
    answer = requests.get(
        f"{base_url}/login/common/oauth/authorize", params=params, allow_redirects=False, timeout=30
    )
    location = answer.headers.get("Location", "")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if answer.status_code != 302 or not code:
        raise SandboxControlError(
            f"Sign-in of {email} did not redirect with a code: {answer.status_code} {location}"
        )
    tokens = requests.post(
        f"{base_url}/login/common/oauth/tokens",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "client_secret": client_secret,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    if not tokens.ok:
        raise SandboxControlError(f"Token exchange failed: {tokens.status_code} {tokens.text}")
    result: dict[str, Any] = tokens.json()
    return result
