"""Pytest fixtures for the Microsoft 365 stand-in (register with ``pytest_plugins``).

- ``microsoft_server`` (session): one ``python -m sandbox.microsoft`` process on free ports
  with a temporary data directory.
- ``microsoft`` (function): wipes its data, faults, stats and throttling settings and returns
  the control client (``MicrosoftControl``).
- ``microsoft_settings`` (function): points Django's ``MICROSOFT_*`` settings at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.microsoft.testing import MicrosoftControl, MicrosoftProcess


@pytest.fixture(scope="session")
def microsoft_server() -> Iterator[MicrosoftProcess]:
    with MicrosoftProcess() as process:
        yield process


@pytest.fixture
def microsoft(microsoft_server: MicrosoftProcess) -> MicrosoftControl:
    control = microsoft_server.control()
    control.reset()
    return control


@pytest.fixture
def microsoft_settings(
    microsoft: MicrosoftControl, microsoft_server: MicrosoftProcess, settings: Any
) -> Any:
    settings.MICROSOFT_LOGIN_URL = microsoft_server.login_url
    settings.MICROSOFT_GRAPH_URL = microsoft_server.graph_url
    settings.MICROSOFT_CA_BUNDLE = str(microsoft_server.ca_bundle)
    settings.MICROSOFT_CLIENT_ID = microsoft_server.client_id
    settings.MICROSOFT_CLIENT_SECRET = microsoft_server.client_secret
    return settings
