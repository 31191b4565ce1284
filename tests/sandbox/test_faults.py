"""Fault injection: latency, 429/503/500 with Retry-After, a moving tenant (421), maintenance."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.testing import SandboxControl, SandboxControlError
from tests.sandbox.tenant_client import ADMIN_EMAIL, TENANT, TenantApi


def test_added_latency(api: TenantApi, sandbox: SandboxControl) -> None:
    sandbox.set_faults(latency_ms=300)

    started = time.perf_counter()
    response = api.get("User/currentPrincipal")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.3
    control_started = time.perf_counter()
    sandbox.health()
    assert time.perf_counter() - control_started < 0.3


@pytest.mark.parametrize(("status", "retry_after"), [(429, "1"), (503, "1"), (500, None)])
def test_injected_failures(
    api: TenantApi, sandbox: SandboxControl, status: int, retry_after: str | None
) -> None:
    sandbox.set_faults(fail_next=[status], retry_after_seconds=1)

    failed = api.get("User/currentPrincipal")
    recovered = api.get("User/currentPrincipal")

    assert failed.status_code == status
    assert failed.json()["Error"] is True
    assert failed.headers.get("Retry-After") == retry_after
    assert recovered.status_code == 200


def test_random_share_of_failures_is_repeatable(api: TenantApi, sandbox: SandboxControl) -> None:
    def statuses() -> list[int]:
        sandbox.set_faults(error_rate=0.5, random_seed=7, error_statuses=[429, 503])
        return [api.get("User/currentPrincipal").status_code for _ in range(20)]

    first, second = statuses(), statuses()

    assert first == second
    assert {429, 503} & set(first)
    assert 200 in first


def test_faults_do_not_touch_the_control_api_or_login(sandbox: SandboxControl) -> None:
    sandbox.set_faults(error_rate=1.0)

    assert sandbox.health()["ok"] is True
    api = TenantApi.signed_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)
    assert api.get("User/currentPrincipal").status_code in {429, 500, 503}


def test_tenant_moves_host_421_and_state_reports_the_new_host(
    api: TenantApi, sandbox: SandboxControl
) -> None:
    new_host = sandbox.move_tenant(tenant=TENANT)

    assert new_host == "localhost"
    misdirected = api.get("User/currentPrincipal")
    assert misdirected.status_code == 421
    assert misdirected.json()["ErrorMessage"] == "Wrong subdomain used to access tenant"
    state = requests.get(f"{sandbox.base_url}/api/state/{TENANT}", timeout=10).json()
    moved_base = sandbox.base_url.replace("127.0.0.1", "localhost")
    assert state["Endpoint"] == f"{moved_base}/{TENANT}"
    moved = TenantApi(base_url=moved_base, tenant=TENANT, tokens=api.tokens)
    assert moved.get("User/currentPrincipal").status_code == 200

    assert sandbox.move_tenant(tenant=TENANT) == "127.0.0.1"
    assert api.get("User/currentPrincipal").status_code == 200
    assert moved.get("User/currentPrincipal").status_code == 421


def test_maintenance(api: TenantApi, sandbox: SandboxControl) -> None:
    sandbox.set_maintenance(tenant=TENANT)

    response = api.get("User/currentPrincipal")
    state = requests.get(f"{sandbox.base_url}/api/state/{TENANT}", timeout=10).json()

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert state["State"] == "OfflineMaintenance"
    assert state["IsRunning"] is False
    sandbox.set_maintenance(tenant=TENANT, on=False)
    assert api.get("User/currentPrincipal").status_code == 200


def test_clear_faults(api: TenantApi, sandbox: SandboxControl) -> None:
    sandbox.set_faults(error_rate=1.0, latency_ms=50)
    sandbox.set_maintenance(tenant=TENANT)

    sandbox.clear_faults()

    assert api.get("User/currentPrincipal").status_code == 200
    assert sandbox.faults()["error_rate"] == 0


@pytest.mark.parametrize(
    "changes",
    [{"error_rate": 2}, {"fail_next": [404]}, {"latency_ms": -1}, {"shoe_size": 3}],
)
def test_impossible_fault_settings_are_refused(
    sandbox: SandboxControl, changes: dict[str, object]
) -> None:
    with pytest.raises(SandboxControlError):
        sandbox.set_faults(**changes)


def test_request_counts_per_tenant(
    api: TenantApi, other_api: TenantApi, sandbox: SandboxControl
) -> None:
    sandbox.clear_request_counts()

    for _ in range(3):
        api.get("User/currentPrincipal")
    other_api.get("User/currentPrincipal")
    counts = sandbox.request_counts()

    assert counts["per_tenant"] == {TENANT: 3, other_api.tenant: 1}
    assert counts["tenant_api"] == 4
    assert counts["total"] >= 4
    sandbox.clear_request_counts()
    assert sandbox.request_counts()["total"] == 0
