"""Clients of the live sandbox (the linked user `ingrid_link` comes from the parent conftest)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.testing import SandboxControl, SandboxProcess, sign_in
from syncengine.superoffice.client import SuperOfficeClient
from syncengine.superoffice.ratelimit import RateLimiter
from tests.plugins.nordlys import INGRID as ADMIN_EMAIL
from tests.plugins.nordlys import TENANT

OTHER_TENANT_EMAIL = "astrid.svensson@fjallvind.example"

ClientFactory = Callable[..., SuperOfficeClient]


class SignedInTokens:
    """A token provider without the database: signs in again when asked to refresh."""

    def __init__(self, *, base_url: str, email: str) -> None:
        self.base_url = base_url
        self.email = email
        self.calls: list[bool] = []
        self.token = str(sign_in(base_url=base_url, email=email)["access_token"])

    def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        if force_refresh:
            self.token = str(sign_in(base_url=self.base_url, email=self.email)["access_token"])
        return self.token


@pytest.fixture
def admin_tokens(sandbox: SandboxControl) -> SignedInTokens:
    return SignedInTokens(base_url=sandbox.base_url, email=ADMIN_EMAIL)


@pytest.fixture
def make_client(sandbox: SandboxControl, admin_tokens: SignedInTokens) -> Iterator[ClientFactory]:
    """Clients of Cust10001 as Ingrid, with quick retries and no rate budget by default."""
    made: list[SuperOfficeClient] = []

    def make(
        *,
        token_provider: Callable[[bool], str] | None = None,
        rate_limiter: RateLimiter | None = None,
        **options: Any,
    ) -> SuperOfficeClient:
        settings: dict[str, Any] = {
            "max_attempts": 3,
            "backoff_base": 0.01,
            "backoff_cap": 0.05,
            **options,
        }
        client = SuperOfficeClient(
            context_identifier=TENANT,
            webapi_url=f"{sandbox.base_url}/{TENANT}/api/",
            token_provider=token_provider or admin_tokens,
            rate_limiter=rate_limiter,
            **settings,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> SuperOfficeClient:
    return make_client()


@pytest.fixture
def crm(sandbox: SandboxControl, sandbox_server: SandboxProcess) -> Iterator[sqlite3.Connection]:
    """The sandbox's own CRM database, read-only: where the seed facts are checked."""
    connection = sqlite3.connect(
        f"file:{sandbox_server.data_dir / 'crm.sqlite3'}?mode=ro", uri=True
    )
    connection.row_factory = sqlite3.Row
    try:
        yield connection
    finally:
        connection.close()
