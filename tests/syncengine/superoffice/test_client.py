"""The client against the live sandbox: paging, headers, errors, and every injected fault."""

from __future__ import annotations

import json
import math
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import LinkedUser, SuperOfficeToken, Tenant
from sandbox.testing import SandboxControl, free_port
from syncengine.superoffice.client import (
    SuperOfficeClient,
    retry_after_seconds,
    superoffice_client_for_linked_user,
)
from syncengine.superoffice.errors import (
    NotFound,
    PermanentError,
    SignInNeeded,
    TransientError,
)
from syncengine.superoffice.ratelimit import RedisRateLimiter
from tests.plugins.nordlys import TENANT
from tests.syncengine.superoffice.conftest import (
    OTHER_TENANT_EMAIL,
    ClientFactory,
    SignedInTokens,
)


def first_person_id(crm: sqlite3.Connection) -> int:
    return int(
        crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND contact_id != 1 ORDER BY person_id",
            (TENANT,),
        ).fetchone()[0]
    )


# --- ordinary requests ---------------------------------------------------------------------


def test_requests_carry_the_token_and_ask_for_english_json(
    client: SuperOfficeClient, admin_tokens: SignedInTokens
) -> None:
    response = client.request("GET", "User/currentPrincipal")

    sent = response.request.headers
    assert sent["Authorization"] == f"Bearer {admin_tokens.token}"
    assert sent["Accept"] == "application/json"
    assert sent["SO-Language"] == "en"
    assert sent["Accept-Language"] == "en"
    assert response.json()["AssociateId"] == 1


def test_get_json_reads_an_entity(client: SuperOfficeClient, crm: sqlite3.Connection) -> None:
    person_id = first_person_id(crm)
    stored = crm.execute(
        "SELECT last_name FROM person WHERE tenant = ? AND person_id = ?", (TENANT, person_id)
    ).fetchone()

    body = client.get_json(f"Person/{person_id}")

    assert body["PersonId"] == person_id
    assert body["Lastname"] == stored["last_name"]


def test_archive_pages_with_top_and_skip_until_a_short_page(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    company_ids = [
        int(row[0])
        for row in crm.execute(
            "SELECT contact_id FROM contact WHERE tenant = ? ORDER BY contact_id LIMIT 30",
            (TENANT,),
        )
    ]
    expected = [
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? AND contact_id <= ? ORDER BY person_id",
            (TENANT, max(company_ids)),
        )
    ]
    rows = list(
        client.archive(
            "Person",
            select=("personId", "lastName"),
            filter=f"contactId between ({min(company_ids)},{max(company_ids)})",
            order_by="personId",
            page_size=7,
        )
    )

    assert [row["personId"] for row in rows] == expected
    assert client.stats.requests == len(expected) // 7 + 1
    assert client.stats.requests > 2
    assert sandbox.request_counts()["per_tenant"][TENANT] == client.stats.requests


def test_long_queries_go_as_a_form_post(client: SuperOfficeClient, crm: sqlite3.Connection) -> None:
    person_ids = [
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? ORDER BY person_id LIMIT 900",
            (TENANT,),
        )
    ]
    left_out = person_ids[::4]
    long_filter = f"personId between ({person_ids[0]},{person_ids[-1]}) and " + " and ".join(
        f"personId ne {person_id}" for person_id in left_out
    )
    assert len(long_filter) > 2000

    rows = list(
        client.archive(
            "Person",
            select=("personId",),
            filter=long_filter,
            order_by="personId",
            page_size=1000,
        )
    )

    assert [row["personId"] for row in rows] == sorted(set(person_ids) - set(left_out))


def test_a_missing_entity_is_not_found_with_superoffices_message(
    client: SuperOfficeClient, crm: sqlite3.Connection
) -> None:
    missing = int(crm.execute("SELECT MAX(person_id) + 1 FROM person").fetchone()[0])

    with pytest.raises(NotFound, match=f"Person id {missing} not found"):
        client.get_json(f"Person/{missing}")

    assert client.stats.retries == 0


def test_a_bad_query_is_a_permanent_error_with_superoffices_message(
    client: SuperOfficeClient,
) -> None:
    with pytest.raises(PermanentError, match="Unknown column 'noSuchColumn'") as raised:
        list(client.archive("Person", select=("noSuchColumn",), order_by="personId"))

    assert not isinstance(raised.value, NotFound)
    assert client.stats.requests == 1


# --- faults --------------------------------------------------------------------------------


def test_latency_is_waited_out(
    client: SuperOfficeClient, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(latency_ms=300)

    body = client.get_json(f"Person/{first_person_id(crm)}")

    assert body["PersonId"] == first_person_id(crm)
    assert client.stats.seconds >= 0.3
    assert client.stats.retries == 0


def test_a_slower_answer_than_the_timeout_is_retried_then_transient(
    make_client: ClientFactory, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(latency_ms=600)
    client = make_client(timeout=0.2, max_attempts=2)

    with pytest.raises(TransientError, match=r"Could not reach SuperOffice.*will retry later"):
        client.get_json("User/currentPrincipal")

    assert client.stats.requests == 2


def test_an_unreachable_server_is_transient_after_the_attempts(
    admin_tokens: SignedInTokens,
) -> None:
    client = SuperOfficeClient(
        context_identifier=TENANT,
        webapi_url=f"http://127.0.0.1:{free_port()}/{TENANT}/api/",
        token_provider=admin_tokens,
        rate_limiter=None,
        max_attempts=3,
        backoff_base=0.01,
        backoff_cap=0.02,
    )

    with pytest.raises(TransientError, match="after 3 attempts"):
        client.get_json("User/currentPrincipal")

    assert client.stats.requests == 3


def test_429_waits_as_long_as_retry_after_says(
    client: SuperOfficeClient, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(fail_next=[429], retry_after_seconds=1)
    started = time.monotonic()

    body = client.get_json("User/currentPrincipal")

    assert body["AssociateId"] == 1
    assert time.monotonic() - started >= 1.0
    assert (client.stats.requests, client.stats.retries) == (2, 1)


def test_503_waits_as_long_as_retry_after_says(
    client: SuperOfficeClient, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(fail_next=[503], retry_after_seconds=1)
    started = time.monotonic()

    assert client.get_json("User/currentPrincipal")["AssociateId"] == 1

    assert time.monotonic() - started >= 1.0
    assert client.stats.retries == 1


def test_server_errors_back_off_and_succeed(
    client: SuperOfficeClient, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(fail_next=[500, 500])

    assert client.get_json("User/currentPrincipal")["AssociateId"] == 1

    assert (client.stats.requests, client.stats.retries) == (3, 2)


def test_server_errors_past_the_attempts_are_transient(
    client: SuperOfficeClient, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(fail_next=[500, 500, 500, 500])

    with pytest.raises(TransientError, match=r"server error.*will retry later"):
        client.get_json("User/currentPrincipal")

    assert client.stats.requests == 3


def test_being_throttled_past_the_attempts_is_transient_in_words(
    make_client: ClientFactory, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(fail_next=[429, 429], retry_after_seconds=1)
    client = make_client(max_attempts=2)

    with pytest.raises(TransientError, match=r"SuperOffice is busy.*will retry later"):
        client.get_json("User/currentPrincipal")

    assert client.stats.requests == 2


def test_a_retry_after_longer_than_we_wait_fails_at_once(
    make_client: ClientFactory, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(fail_next=[503], retry_after_seconds=30)
    client = make_client(longest_retry_after=5)
    started = time.monotonic()

    with pytest.raises(TransientError, match="unavailable or in maintenance"):
        client.get_json("User/currentPrincipal")

    assert time.monotonic() - started < 5
    assert client.stats.requests == 1


def test_random_failures_do_not_change_what_is_read(
    make_client: ClientFactory, crm: sqlite3.Connection, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(error_rate=0.3, error_statuses=[500], random_seed=7)
    client = make_client(max_attempts=8)
    expected = [
        int(row[0])
        for row in crm.execute(
            "SELECT person_id FROM person WHERE tenant = ? ORDER BY person_id LIMIT 300",
            (TENANT,),
        )
    ]

    rows = list(
        client.archive(
            "Person",
            select=("personId",),
            filter=f"personId le {expected[-1]}",
            order_by="personId",
            page_size=25,
        )
    )

    assert [row["personId"] for row in rows] == expected
    assert client.stats.retries > 0
    assert client.stats.requests == math.ceil((len(expected) + 1) / 25) + client.stats.retries


def test_retry_after_reads_seconds_and_http_dates() -> None:
    in_a_minute = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=60), usegmt=True)

    assert retry_after_seconds(header="3") == 3.0
    assert 55 <= (retry_after_seconds(header=in_a_minute) or 0) <= 60
    assert retry_after_seconds(header="Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds(header=None) is None
    assert retry_after_seconds(header="soon") is None


# --- tokens --------------------------------------------------------------------------------


def test_an_expired_token_is_refreshed_once_and_the_request_succeeds(
    client: SuperOfficeClient, admin_tokens: SignedInTokens, sandbox: SandboxControl
) -> None:
    client.get_json("User/currentPrincipal")
    sandbox.expire_tokens()

    assert client.get_json("User/currentPrincipal")["AssociateId"] == 1

    assert admin_tokens.calls == [False, True]
    assert client.stats.token_refreshes == 1


def test_a_token_refused_after_a_refresh_means_signing_in_again(
    make_client: ClientFactory, admin_tokens: SignedInTokens, sandbox: SandboxControl
) -> None:
    stale = admin_tokens.token
    sandbox.expire_tokens()
    client = make_client(token_provider=lambda force_refresh: stale)

    with pytest.raises(SignInNeeded, match="Sign in with SuperOffice again"):
        client.get_json("User/currentPrincipal")

    assert client.stats.requests == 2


def test_a_token_of_another_tenant_is_denied_permanently(
    make_client: ClientFactory, sandbox: SandboxControl
) -> None:
    foreign = SignedInTokens(base_url=sandbox.base_url, email=OTHER_TENANT_EMAIL)
    client = make_client(token_provider=foreign)

    with pytest.raises(PermanentError, match="denies this user access") as raised:
        client.get_json("User/currentPrincipal")

    assert not isinstance(raised.value, SignInNeeded)
    assert foreign.calls == [False, True]


# --- the client built for a linked user ----------------------------------------------------


def test_the_linked_users_client_refreshes_the_stored_token_when_it_expires(
    ingrid_link: LinkedUser, sandbox: SandboxControl
) -> None:
    assert ingrid_link.user is not None
    before = SuperOfficeToken.objects.get(user=ingrid_link.user).access_token
    sandbox.expire_tokens()
    client = superoffice_client_for_linked_user(linked_user=ingrid_link)

    assert client.get_json("User/currentPrincipal")["AssociateId"] == 1

    assert SuperOfficeToken.objects.get(user=ingrid_link.user).access_token != before
    assert client.stats.token_refreshes == 1


def test_revoked_consent_means_signing_in_again(
    ingrid_link: LinkedUser, sandbox: SandboxControl
) -> None:
    sandbox.revoke_consent(tenant=TENANT, associate_id=1)
    client = superoffice_client_for_linked_user(linked_user=ingrid_link)

    with pytest.raises(SignInNeeded, match="Sign in with SuperOffice again"):
        client.get_json("User/currentPrincipal")

    assert ingrid_link.user is not None
    assert SuperOfficeToken.objects.get(user=ingrid_link.user).refresh_failed_at is not None


def test_a_moved_tenant_is_found_again_and_its_new_host_remembered(
    ingrid_link: LinkedUser, sandbox: SandboxControl
) -> None:
    old_url = ingrid_link.tenant.webapi_url
    new_host = sandbox.move_tenant(tenant=TENANT)
    client = superoffice_client_for_linked_user(linked_user=ingrid_link)

    assert client.get_json("User/currentPrincipal")["AssociateId"] == 1

    saved = Tenant.objects.get(pk=ingrid_link.tenant.pk).webapi_url
    assert saved != old_url
    assert saved.startswith(f"http://{new_host}:")
    assert saved.endswith(f"/{TENANT}/api/")
    assert client.webapi_url == saved
    assert (client.stats.host_changes, client.stats.retries) == (1, 1)
    assert sandbox.request_counts()["per_kind"]["state"] == 1


def test_maintenance_is_transient_after_the_retries(
    ingrid_link: LinkedUser, sandbox: SandboxControl, settings: SettingsWrapper
) -> None:
    sandbox.set_maintenance(tenant=TENANT)
    sandbox.set_faults(retry_after_seconds=1)
    client = superoffice_client_for_linked_user(linked_user=ingrid_link)

    with pytest.raises(TransientError, match=r"in maintenance.*will retry later"):
        client.get_json("User/currentPrincipal")

    assert client.stats.requests == settings.SUPEROFFICE_MAX_ATTEMPTS
    assert client.stats.seconds >= settings.SUPEROFFICE_MAX_ATTEMPTS - 1


def test_a_linked_user_who_never_signed_in_needs_to_sign_in(
    ingrid_link: LinkedUser,
) -> None:
    LinkedUser.objects.filter(pk=ingrid_link.pk).update(user=None)
    ingrid_link.refresh_from_db()

    with pytest.raises(SignInNeeded, match="has not signed in"):
        superoffice_client_for_linked_user(linked_user=ingrid_link)


def test_an_unreachable_login_service_is_transient(
    ingrid_link: LinkedUser, sandbox: SandboxControl, settings: SettingsWrapper
) -> None:
    assert ingrid_link.user is not None
    SuperOfficeToken.objects.filter(user=ingrid_link.user).update(expires_at=timezone.now())
    settings.SUPEROFFICE_ENVIRONMENT = f"http://127.0.0.1:{free_port()}"
    client = superoffice_client_for_linked_user(linked_user=ingrid_link)

    with pytest.raises(TransientError, match="Will retry later"):
        client.get_json("User/currentPrincipal")


# --- the rate budget and the stats ---------------------------------------------------------


def test_every_request_takes_the_shared_rate_budget(
    make_client: ClientFactory, sandbox: SandboxControl, settings: SettingsWrapper
) -> None:
    limiter = RedisRateLimiter(redis_url=settings.REDIS_URL, per_second=4)
    client = make_client(rate_limiter=limiter)

    for _ in range(6):
        client.request("GET", "User/currentPrincipal")

    assert limiter.waits >= 1
    # The fifth and sixth requests waited for the first ones to leave the one-second window.
    assert client.stats.throttled_seconds >= 0.5
    assert client.stats.requests == 6
    assert sandbox.request_counts()["per_tenant"][TENANT] == 6


def test_a_retry_after_is_honoured_by_the_next_client_after_one_gave_up(
    make_client: ClientFactory, sandbox: SandboxControl, settings: SettingsWrapper
) -> None:
    """A run that gave up on a 429 ends; the next run's first request must still wait
    the Retry-After out, in whichever worker it runs."""
    key_prefix = f"test-pause-{uuid.uuid4().hex}"
    shared = {"redis_url": settings.REDIS_URL, "per_second": 100, "key_prefix": key_prefix}
    sandbox.set_faults(fail_next=[429, 429], retry_after_seconds=2)
    giving_up = make_client(max_attempts=2, rate_limiter=RedisRateLimiter(**shared))
    with pytest.raises(TransientError):
        giving_up.get_json("User/currentPrincipal")
    told = time.monotonic()
    sandbox.set_faults(fail_next=[])

    next_run = make_client(rate_limiter=RedisRateLimiter(**shared))
    assert next_run.get_json("User/currentPrincipal")["AssociateId"] == 1

    assert time.monotonic() - told >= 1.5
    assert next_run.stats.requests == 1


def test_a_client_that_gave_up_waits_before_its_next_request(
    make_client: ClientFactory, sandbox: SandboxControl
) -> None:
    sandbox.set_faults(fail_next=[503], retry_after_seconds=1)
    client = make_client(max_attempts=1)
    with pytest.raises(TransientError):
        client.get_json("User/currentPrincipal")
    told = time.monotonic()

    client.get_json("User/currentPrincipal")

    assert time.monotonic() - told >= 0.9


def test_a_pause_longer_than_we_wait_fails_the_next_request_at_once(
    make_client: ClientFactory, sandbox: SandboxControl, settings: SettingsWrapper
) -> None:
    shared = {"redis_url": settings.REDIS_URL, "per_second": 100}
    limiter = RedisRateLimiter(key_prefix=f"test-pause-{uuid.uuid4().hex}", **shared)
    limiter.pause(tenant=TENANT, seconds=60)
    client = make_client(rate_limiter=limiter, longest_retry_after=5)

    with pytest.raises(TransientError, match="asked us to wait"):
        client.get_json("User/currentPrincipal")

    assert client.stats.requests == 0
    assert 55 < limiter.paused_for(tenant=TENANT) <= 60


class _CannedSession(requests.Session):
    """Answers every request with the next canned JSON body (a server we script)."""

    def __init__(self, bodies: list[dict[str, Any]]) -> None:
        super().__init__()
        self.bodies = bodies
        self.urls: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.urls.append(str(url))
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(self.bodies.pop(0)).encode()
        response.headers["Content-Type"] = "application/json"
        return response


def _scripted_client(bodies: list[dict[str, Any]]) -> tuple[SuperOfficeClient, _CannedSession]:
    session = _CannedSession(bodies)
    client = SuperOfficeClient(
        context_identifier="Cust1",
        webapi_url="https://online2.example/Cust1/api/",
        token_provider=lambda force_refresh: "8A:Cust1.token",
        rate_limiter=None,
        session=session,
    )
    return client, session


def test_a_server_ignoring_skip_does_not_make_us_read_forever() -> None:
    page = {"value": [{"personId": i} for i in range(2)]}
    client, _ = _scripted_client([page, page, page])

    with pytest.raises(PermanentError, match="same page"):
        list(client.archive("Person", select=("personId",), order_by="personId", page_size=2))


def test_a_next_page_on_another_host_is_not_followed_with_our_token() -> None:
    client, session = _scripted_client(
        [{"value": [{"personId": 1}], "odata.nextLink": "https://evil.example/steal"}]
    )

    with pytest.raises(PermanentError, match="another host"):
        list(client.archive("Person", select=("personId",), order_by="personId", page_size=5))
    assert all(url.startswith("https://online2.example/") for url in session.urls)
