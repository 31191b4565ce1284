"""Pytest fixtures for the SuperOffice sandbox (register with ``pytest_plugins``).

- ``sandbox_server`` (session): one ``python -m sandbox`` process for the whole session,
  on a free port with a temporary data directory.
- ``sandbox`` (function): resets the data, clears faults and request counts, and returns
  the control client (``SandboxControl``; ``.base_url`` is the sandbox's base URL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sandbox.testing import SandboxControl, SandboxProcess

# The default seed (6,000 persons in the first tenant) keeps the big selection above
# 5,000 members; SANDBOX_TEST_PERSONS can shrink it for quick local runs.
TEST_PERSONS = int(os.environ.get("SANDBOX_TEST_PERSONS", "6000"))


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxProcess]:
    with SandboxProcess(persons=TEST_PERSONS) as process:
        yield process


@pytest.fixture
def sandbox(sandbox_server: SandboxProcess) -> SandboxControl:
    control = sandbox_server.control()
    control.reset(persons=TEST_PERSONS)
    control.clear_faults()
    control.clear_request_counts()
    return control
