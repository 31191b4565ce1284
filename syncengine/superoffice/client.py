"""An HTTP client for one SuperOffice tenant's REST API, as one user.

Every request takes the tenant's shared rate budget first, then goes out on a keep-alive
session. What SuperOffice answers decides what happens next:

- 429 / 503: wait as long as `Retry-After` says (plus jitter) and try again;
- 500 / 502 / 504, timeouts, dropped connections: exponential backoff with full jitter;
- 401 / 403: ask for a refreshed token once and try again;
- 421: the tenant moved to another host; re-read it from the state API, switch, retry once;
- 404 and other 4xx: typed errors with SuperOffice's own message.

When the attempts run out the error is a `TransientError`, so the task retries later.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings

from syncengine.superoffice.cells import ARCHIVE_OUTPUT
from syncengine.superoffice.errors import (
    NotFound,
    PermanentError,
    SignInNeeded,
    SuperOfficeError,
    TransientError,
)
from syncengine.superoffice.ratelimit import RateLimiter, rate_limiter_from_settings

if TYPE_CHECKING:
    from profiles.models import LinkedUser, User

TokenProvider = Callable[[bool], str]
"""Returns an access token; called with True after SuperOffice refused the last one."""

HostChanged = Callable[[str], None]
"""Told the tenant's new webapi URL after SuperOffice moved it to another host."""

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_BACKOFF_BASE_SECONDS = 0.5
DEFAULT_BACKOFF_CAP_SECONDS = 30.0
# A Retry-After longer than this is not slept through inside a run: the run fails as
# transient and the task tries again later, instead of holding a worker for minutes.
DEFAULT_LONGEST_RETRY_AFTER_SECONDS = 120.0
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_PAGE_SIZE = 1000
# Longer query strings go as a form-encoded POST, which the archive endpoint takes "when
# the query string would exceed URL length limits" (its Swagger), e.g. long filters.
LONGEST_QUERY_STRING = 2000

BUSY_STATUSES = {429, 503}
SERVER_ERROR_STATUSES = {500, 502, 504}
TOKEN_REFUSED_STATUSES = {401, 403}
MISDIRECTED = 421

_jitter = random.Random()  # noqa: S311 - spreading retries, not security


@dataclass
class RequestStats:
    """What talking to SuperOffice cost, for benchmarks and the run record."""

    requests: int = 0  # HTTP requests sent to the tenant API, retries included
    retries: int = 0  # requests sent again after a failure, a refused token or a move
    seconds: float = 0.0  # wall time inside the client, every wait included
    throttled_seconds: float = 0.0  # of which waiting for the shared rate budget
    token_refreshes: int = 0
    host_changes: int = 0


def retry_after_seconds(*, header: str | None) -> float | None:
    """`Retry-After` as seconds: either a number of seconds or an HTTP date."""
    if not header:
        return None
    text = header.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(tz=UTC)).total_seconds())


def _error_message(*, response: requests.Response) -> str:
    """SuperOffice's own `ErrorMessage`, or the start of whatever it sent."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("ErrorMessage"):
        return str(body["ErrorMessage"])
    text = response.text.strip()
    return text[:300] if text else f"HTTP {response.status_code}"


def _environment_base(*, webapi_url: str, context_identifier: str) -> str:
    """`https://online2.superoffice.com` from `https://online2.superoffice.com/Cust1/api/`."""
    marker = f"/{context_identifier}/"
    position = webapi_url.lower().find(marker.lower())
    if position < 0:
        parts = urlsplit(webapi_url)
        return f"{parts.scheme}://{parts.netloc}"
    return webapi_url[:position]


def _normalised_webapi_url(url: str) -> str:
    return url.rstrip("/") + "/"


class SuperOfficeClient:
    """Reads one tenant's REST API (`{webapi_url}v1/...`) with one user's token.

    Not thread-safe: a run uses its own client. `stats` counts every request it sends.
    """

    def __init__(
        self,
        *,
        context_identifier: str,
        webapi_url: str,
        token_provider: TokenProvider,
        rate_limiter: RateLimiter | None,
        on_host_change: HostChanged | None = None,
        state_base_url: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base: float = DEFAULT_BACKOFF_BASE_SECONDS,
        backoff_cap: float = DEFAULT_BACKOFF_CAP_SECONDS,
        longest_retry_after: float = DEFAULT_LONGEST_RETRY_AFTER_SECONDS,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: requests.Session | None = None,
    ) -> None:
        """`state_base_url` is where `/api/state/{ctx}` lives (the environment's login host,
        e.g. `https://online.superoffice.com`); by default the part of the webapi URL before
        `/{ctx}/`."""
        self.context_identifier = context_identifier
        self.webapi_url = _normalised_webapi_url(webapi_url)
        self.token_provider = token_provider
        self.rate_limiter = rate_limiter
        self.on_host_change = on_host_change
        self.state_base_url = (
            state_base_url
            or _environment_base(webapi_url=webapi_url, context_identifier=context_identifier)
        ).rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.longest_retry_after = longest_retry_after
        self.timeout = timeout
        self.stats = RequestStats()
        self.session = session or requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/json",
                # Without a language, multi-language strings come back raw.
                "SO-Language": "en",
                "Accept-Language": "en",
            }
        )
        self._token: str | None = None
        # Monotonic time before which SuperOffice asked for no requests (Retry-After).
        self._paused_until = 0.0

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> SuperOfficeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- public reads --------------------------------------------------------------------

    def get_json(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET `{webapi_url}v1/{path}` (or an absolute URL, e.g. a nextLink) as JSON."""
        response = self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError as error:
            raise TransientError(
                f"SuperOffice sent something that is not JSON for {path} "
                f"(HTTP {response.status_code}); will retry."
            ) from error

    def archive(
        self,
        provider: str,
        *,
        select: tuple[str, ...] | list[str],
        filter: str | None = None,
        order_by: str,
        entities: tuple[str, ...] | list[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Rows of `Archive/{provider}`, page by page ($top/$skip, sorted by `order_by`,
        a sortable column unique in the result so paging is stable), until a short page.
        Values are logical (see `cells`), never display text."""
        params: dict[str, str | int] = {
            "$select": ",".join(select),
            "$orderBy": order_by,
            "$top": page_size,
            "$skip": 0,
            "$output": ARCHIVE_OUTPUT,
        }
        if filter:
            params["$filter"] = filter
        if entities:
            params["$entities"] = ",".join(entities)
        path = f"Archive/{provider}"
        skip = 0
        previous_first_row: dict[str, Any] | None = None
        while True:
            params["$skip"] = skip
            body = self._archive_page(path=path, params=params)
            rows = body.get("value") or []
            if rows and rows[0] == previous_first_row:
                # A server ignoring $skip would otherwise have us read the same page forever.
                raise PermanentError(
                    f"SuperOffice answered the same page of {provider} twice; stopped reading."
                )
            previous_first_row = rows[0] if rows else None
            yield from rows
            next_link = body.get("odata.nextLink")
            while next_link:
                # The server cut the page short of $top; it says where the rest starts.
                # Our token goes only to the tenant's own API, wherever the link points.
                if str(next_link).startswith(("http://", "https://")) and not str(
                    next_link
                ).startswith(self.webapi_url):
                    raise PermanentError(
                        f"SuperOffice's next page of {provider} is on another host; not followed."
                    )
                body = self.get_json(str(next_link))
                more = body.get("value") or []
                rows = [*rows, *more]
                yield from more
                next_link = body.get("odata.nextLink")
            if len(rows) < page_size:
                return
            skip += len(rows)

    def _archive_page(self, *, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        if len(urlencode(params)) > LONGEST_QUERY_STRING:
            response = self.request("POST", path, data=params)
        else:
            response = self.request("GET", path, params=params)
        try:
            body = response.json()
        except ValueError as error:
            raise TransientError(
                f"SuperOffice sent something that is not JSON for {path}; will retry."
            ) from error
        if not isinstance(body, dict):
            raise PermanentError(f"SuperOffice answered {path} with an unexpected shape.")
        return body

    # --- the request loop ----------------------------------------------------------------

    def url_for(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.webapi_url}v1/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, str | int] | None = None,
    ) -> requests.Response:
        """Send one request with the rate budget, retries, token refresh and host moves."""
        started = time.monotonic()
        try:
            return self._request(method=method, path=path, params=params, data=data)
        finally:
            self.stats.seconds += time.monotonic() - started

    def _request(
        self,
        *,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        data: Mapping[str, str | int] | None,
    ) -> requests.Response:
        failures = 0
        token_refreshed = False
        host_reread = False
        force_refresh = False
        while True:
            self._wait_out_pause()
            if self.rate_limiter is not None:
                self.stats.throttled_seconds += self.rate_limiter.acquire(
                    tenant=self.context_identifier
                )
            token = self._access_token(force_refresh=force_refresh)
            force_refresh = False
            self.stats.requests += 1
            try:
                response = self.session.request(
                    method,
                    self.url_for(path),
                    params=params,
                    data=data,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout,
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as error:
                failures += 1
                if failures >= self.max_attempts:
                    raise TransientError(
                        f"Could not reach SuperOffice for {self.context_identifier} after "
                        f"{failures} attempts ({type(error).__name__}); will retry later."
                    ) from error
                self._back_off(failures=failures)
                continue

            status = response.status_code
            if status < 400:
                return response
            if status in TOKEN_REFUSED_STATUSES:
                if token_refreshed:
                    raise self._refused_twice(response=response, path=path)
                token_refreshed = True
                force_refresh = True
                self.stats.retries += 1
                continue
            if status == MISDIRECTED:
                if host_reread:
                    raise TransientError(
                        f"SuperOffice keeps sending {self.context_identifier} to another host "
                        "(421 Misdirected Request) after we re-read where it lives; "
                        "will retry later."
                    )
                host_reread = True
                self._move_to_current_host()
                self.stats.retries += 1
                continue
            if status in BUSY_STATUSES:
                failures += 1
                retry_after = retry_after_seconds(header=response.headers.get("Retry-After"))
                if retry_after is not None:
                    # Honoured by every request that follows, ours or another worker's,
                    # even after this one gives up.
                    self._pause(seconds=retry_after)
                if failures >= self.max_attempts or (
                    retry_after is not None and retry_after > self.longest_retry_after
                ):
                    raise TransientError(self._busy_message(response=response))
                if retry_after is None:
                    self._back_off(failures=failures)
                self.stats.retries += 1
                continue
            if status in SERVER_ERROR_STATUSES or status >= 500:
                failures += 1
                if failures >= self.max_attempts:
                    raise TransientError(
                        f"SuperOffice answered {status} (a server error) {failures} times "
                        f"for {self.context_identifier}: {_error_message(response=response)}; "
                        "will retry later."
                    )
                self._back_off(failures=failures)
                self.stats.retries += 1
                continue
            if status == 404:
                raise NotFound(_error_message(response=response))
            raise PermanentError(
                f"SuperOffice refused the request ({status}): {_error_message(response=response)}"
            )

    def _access_token(self, *, force_refresh: bool) -> str:
        if force_refresh:
            self.stats.token_refreshes += 1
        if self._token is None or force_refresh:
            self._token = self.token_provider(force_refresh)
        return self._token

    def _refused_twice(self, *, response: requests.Response, path: str) -> SuperOfficeError:
        message = _error_message(response=response)
        if response.status_code == 401:
            return SignInNeeded(
                "SuperOffice does not accept this user's access even after a token refresh "
                f"({message}). Sign in with SuperOffice again to resume syncing."
            )
        return PermanentError(
            f"SuperOffice denies this user access to {path} ({message}), even with a fresh "
            "token. An administrator must check the user's rights in SuperOffice."
        )

    def _busy_message(self, *, response: requests.Response) -> str:
        message = _error_message(response=response)
        if response.status_code == 429:
            return (
                f"SuperOffice is busy and asks us to slow down for {self.context_identifier} "
                f"({message}); will retry later."
            )
        return (
            f"SuperOffice is unavailable or in maintenance for {self.context_identifier} "
            f"({message}); will retry later."
        )

    def _pause(self, *, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        if self.rate_limiter is not None:
            self.rate_limiter.pause(tenant=self.context_identifier, seconds=seconds)

    def _wait_out_pause(self) -> None:
        """Wait as long as SuperOffice last asked (here or in any worker), with jitter; a
        wait longer than we hold a worker for fails as transient instead."""
        remaining = self._paused_until - time.monotonic()
        if self.rate_limiter is not None:
            remaining = max(remaining, self.rate_limiter.paused_for(tenant=self.context_identifier))
        if remaining <= 0:
            return
        if remaining > self.longest_retry_after:
            raise TransientError(
                f"SuperOffice asked us to wait {remaining:.0f} s before the next request for "
                f"{self.context_identifier}; will retry later."
            )
        self._sleep(remaining + _jitter.uniform(0, self.backoff_base))

    def _back_off(self, *, failures: int) -> None:
        # Full jitter: anywhere between nothing and the exponential ceiling, so workers
        # that failed together do not come back together.
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
        self._sleep(_jitter.uniform(0, ceiling))

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def _move_to_current_host(self) -> None:
        """Ask the state API where the tenant lives now and send requests there."""
        state_url = f"{self.state_base_url}/api/state/{self.context_identifier}"
        try:
            response = self.session.get(state_url, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientError(
                f"SuperOffice moved {self.context_identifier} to another host, and its state "
                f"service did not answer ({type(error).__name__}); will retry later."
            ) from error
        try:
            state = response.json() if response.ok else {}
        except ValueError:
            state = {}
        api = state.get("Api") if isinstance(state, dict) else None
        if not api:
            raise TransientError(
                f"SuperOffice moved {self.context_identifier} to another host, and its state "
                f"service did not say where (HTTP {response.status_code}); will retry later."
            )
        new_url = _normalised_webapi_url(str(api))
        if new_url != self.webapi_url:
            self.webapi_url = new_url
            self.stats.host_changes += 1
            if self.on_host_change is not None:
                self.on_host_change(new_url)


def superoffice_client_for_linked_user(*, linked_user: LinkedUser) -> SuperOfficeClient:
    """A client that reads the linked user's tenant with the user's own token."""
    if linked_user.user is None:
        raise SignInNeeded(
            f"Waiting for sign-in: {linked_user.email} has not signed in with SuperOffice yet."
        )
    return superoffice_client_for_user(user=linked_user.user)


def superoffice_client_for_user(*, user: User) -> SuperOfficeClient:
    """A client that reads the user's tenant with the user's own token.

    The token service's errors become the engine's: a refused refresh means the user must
    sign in again (permanent); an unreachable login service is transient. A tenant moved
    to another host is remembered on the Tenant, so later runs go there directly.
    """
    # Imported here so this module loads without Django's app registry (benchmarks
    # build clients by hand).
    from profiles.models import Tenant
    from profiles.superoffice.environments import ENVIRONMENT_BASE_URLS
    from profiles.superoffice.tokens import (
        SignInRequired,
        SuperOfficeUnavailable,
        superoffice_access_token_get,
    )

    tenant = user.tenant
    if tenant is None:
        raise PermanentError(f"{user} is not a user of any SuperOffice tenant.")

    def token_provider(force_refresh: bool) -> str:
        try:
            return superoffice_access_token_get(user=user, force_refresh=force_refresh)
        except SignInRequired as error:
            raise SignInNeeded(str(error)) from error
        except SuperOfficeUnavailable as error:
            raise TransientError(f"{error} Will retry later.") from error

    def remember_host(webapi_url: str) -> None:
        Tenant.objects.filter(pk=tenant.pk).update(webapi_url=webapi_url)
        tenant.webapi_url = webapi_url

    if not tenant.webapi_url:
        raise PermanentError(
            f"We do not know where {tenant.context_identifier}'s SuperOffice API lives yet; "
            "a user of the tenant must sign in once."
        )
    return SuperOfficeClient(
        context_identifier=tenant.context_identifier,
        webapi_url=tenant.webapi_url,
        token_provider=token_provider,
        rate_limiter=rate_limiter_from_settings(),
        on_host_change=remember_host,
        state_base_url=ENVIRONMENT_BASE_URLS.get(tenant.environment),
        max_attempts=settings.SUPEROFFICE_MAX_ATTEMPTS,
        backoff_base=settings.SUPEROFFICE_BACKOFF_BASE_SECONDS,
        backoff_cap=settings.SUPEROFFICE_BACKOFF_CAP_SECONDS,
    )
