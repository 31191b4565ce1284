"""Fixtures of the sandbox tests; the ``sandbox`` fixture comes from tests/plugins/sandbox.py."""

from __future__ import annotations

import pytest

from sandbox.testing import SandboxControl
from tests.sandbox.tenant_client import (
    ADMIN_EMAIL,
    OTHER_TENANT,
    OTHER_TENANT_ADMIN_EMAIL,
    TenantApi,
)


@pytest.fixture
def api(sandbox: SandboxControl) -> TenantApi:
    """The tenant API of Cust10001, signed in as its administrator."""
    return TenantApi.signed_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)


@pytest.fixture
def other_api(sandbox: SandboxControl) -> TenantApi:
    """The tenant API of Cust20002, signed in as its administrator."""
    return TenantApi.signed_in(
        base_url=sandbox.base_url, email=OTHER_TENANT_ADMIN_EMAIL, tenant=OTHER_TENANT
    )
