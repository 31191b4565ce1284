"""What starting a stand-in of ours and driving its control API have in common, for
``sandbox.testing`` (SuperOffice) and ``sandbox.microsoft.testing`` (Microsoft 365).

Only the standard library, ``requests`` and the local-server launcher of ``devservers``;
nothing here imports a stand-in's server code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import requests

from devservers.process import LocalServer

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


class StandInProcess(LocalServer):
    """A stand-in run from this repository (``python -m sandbox…``): the repository is on
    its ``PYTHONPATH``, and it is ready once ``/_sandbox/health`` answers on `port`."""

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        environment = super().environment()
        environment["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPOSITORY_ROOT), environment.get("PYTHONPATH", "")])
        )
        return environment

    def is_ready(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/_sandbox/health", timeout=1).ok
        except requests.RequestException:
            return False


class ControlError(RuntimeError):
    """A stand-in's control API refused a request; the message is the stand-in's."""


class ControlClient:
    """Requests to a stand-in's ``/_sandbox/`` API; a refusal raises `error`."""

    error: type[ControlError] = ControlError

    def __init__(self, *, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def call(self, *, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.request(
            method, f"{self.base_url}/_sandbox/{path}", json=body, timeout=self.timeout
        )
        if not response.ok:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise self.error(f"{method} /_sandbox/{path}: {response.status_code} {message}")
        return response.json()

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call(method="GET", path="health")
        return result
