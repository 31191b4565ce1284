"""Microsoft Graph v1.0 over HTTP: one session per target, tokens, the mailbox budget,
retries, `$batch`, and errors in words.

Every request, and every sub-request inside a `$batch`, asks for immutable ids
(`Prefer: IdType="ImmutableId"`): a contact's id then survives moves between folders, so the
ids we store stay true. A 429/503/504 is retried after its `Retry-After` (exponential
backoff with jitter only when there is none) — but a request that may have created
something is never sent again blindly: the caller looks for it first.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

import requests
from django.conf import settings

from syncengine.targets.base import TargetError
from syncengine.targets.microsoft.budget import MailboxBudget
from syncengine.targets.microsoft.identity import _app_token, http_session

IMMUTABLE_IDS = 'IdType="ImmutableId"'
TIMEOUT_SECONDS = 30.0
MAX_ATTEMPTS = 4
# A mailbox that asks us to wait longer than this is busy for a while: the run stops here
# and the next one (≤ 15 min) goes on.
RETRY_AFTER_CAP_SECONDS = 30.0
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0
BATCH_LIMIT = 20
RETRYABLE = frozenset({429, 503, 504})
# Error codes that say the mailbox itself is not there (rather than one item in it).
MAILBOX_MISSING_CODES = frozenset(
    {
        "ErrorInvalidUser",
        "ErrorNonExistentMailbox",
        "MailboxNotEnabledForRESTAPI",
        "MailboxNotFound",
        "Request_ResourceNotFound",
        "ResourceNotFound",
    }
)


class TokenSource(Protocol):
    def __call__(self, *, fresh: bool) -> str:
        """A bearer token; `fresh`: the last one was refused, get a new one."""
        ...


@dataclass(frozen=True)
class GraphResponse:
    """One answer: of a whole request, or of one sub-request inside a `$batch`."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        error = self.body.get("error")
        return str(error.get("code") or "") if isinstance(error, dict) else ""

    @property
    def error_message(self) -> str:
        error = self.body.get("error")
        return str(error.get("message") or "")[:200] if isinstance(error, dict) else ""

    def header(self, name: str) -> str:
        lowered = name.lower()
        return next((str(v) for k, v in self.headers.items() if k.lower() == lowered), "")

    def retry_after(self) -> float | None:
        """Seconds `Retry-After` asks for (delay-seconds, decimals allowed, or a date)."""
        value = self.header("Retry-After").strip()
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(tz=UTC)).total_seconds())

    def describe(self) -> str:
        detail = ": ".join(part for part in (self.error_code, self.error_message) if part)
        return f"HTTP {self.status}" + (f" ({detail})" if detail else "")


@dataclass(frozen=True)
class SubRequest:
    """One request inside a `$batch`; `url` is relative to /v1.0 and starts with '/'."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class AnswerLost(TargetError):
    """The request went out but its answer did not come back: it may have taken effect."""


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter, for answers without Retry-After."""
    ceiling: float = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2**attempt))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret


def with_immutable_ids(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with immutable ids preferred, beside any other preference given."""
    merged = dict(headers)
    others = merged.pop("Prefer", "")
    merged["Prefer"] = f"{IMMUTABLE_IDS}, {others}" if others else IMMUTABLE_IDS
    return merged


def path_segment(value: str) -> str:
    return quote(value, safe="=@")


def app_token_source(*, directory_id: str) -> TokenSource:
    def token(*, fresh: bool) -> str:
        return _app_token(directory_id=directory_id, fresh=fresh)

    return token


class GraphClient:
    """Requests to one mailbox, within its budget, from any number of threads."""

    def __init__(
        self,
        *,
        tokens: TokenSource,
        mailbox: str,
        budget: MailboxBudget | None,
        timeout: float = TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = f"{settings.MICROSOFT_GRAPH_URL}/v1.0"
        self.tokens = tokens
        self.mailbox = mailbox
        self.budget = budget
        self.timeout = timeout
        self.sleep = sleep
        self.session = http_session()
        self._token_lock = threading.Lock()
        self._token: str | None = None

    def close(self) -> None:
        self.session.close()

    # -- tokens ----------------------------------------------------------------------------

    def token(self) -> str:
        """The bearer token in use, got now if there is none yet."""
        return self._bearer()

    def _bearer(self, *, refused: str | None = None) -> str:
        with self._token_lock:
            if self._token is None or (refused is not None and self._token == refused):
                self._token = self.tokens(fresh=refused is not None)
            return self._token

    # -- one request -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cost: int = 1,
        idempotent: bool = True,
        doing: str,
    ) -> GraphResponse:
        """One request (an absolute URL, or a path under /v1.0), retried where that is safe:
        401 once with a new token, 429 after Retry-After (Graph runs no throttled request),
        503/504 and lost connections only when `idempotent`. Refusals of the whole mailbox
        (403, mailbox not found) raise a permanent TargetError; other answers are returned."""
        target = url if url.startswith(("http://", "https://")) else self.base + url
        refreshed = False
        attempt = 0
        while True:
            token = self._bearer()
            try:
                response = self._send(
                    method, target, body=body, headers=headers, token=token, cost=cost
                )
            except requests.RequestException as error:
                if not idempotent:
                    raise AnswerLost(
                        f"Microsoft 365 did not answer while {doing}: {error}"
                    ) from error
                if attempt + 1 >= MAX_ATTEMPTS:
                    raise TargetError(
                        f"Microsoft 365 could not be reached while {doing}: {error}"
                    ) from error
                self.sleep(backoff_seconds(attempt))
                attempt += 1
                continue
            if response.status in (401, 403) and not refreshed:
                # A token refused, or issued before the organisation withdrew its consent
                # (tokens live an hour): a fresh one tells whether we are still let in.
                refreshed = True
                self._bearer(refused=token)
                continue
            if response.status in RETRYABLE:
                if response.status != 429 and not idempotent:
                    raise AnswerLost(
                        f"Microsoft 365 answered {response.describe()} while {doing}; it may "
                        "have been done anyway."
                    )
                wait = self.wait_before_retry(response, attempt=attempt)
                if attempt + 1 < MAX_ATTEMPTS and wait is not None:
                    self.sleep(wait)
                    attempt += 1
                    continue
            self.raise_for_mailbox(response, doing=doing, token_renewed=refreshed)
            return response

    def wait_before_retry(self, response: GraphResponse, *, attempt: int) -> float | None:
        """How long to wait before sending again; None when it is too long to wait now. A
        429's wait is shared with every worker through the budget."""
        retry_after = response.retry_after()
        if retry_after is None:
            return backoff_seconds(attempt)
        if retry_after > RETRY_AFTER_CAP_SECONDS:
            return None
        if response.status == 429 and self.budget is not None:
            self.budget.pause(mailbox=self.mailbox, seconds=retry_after)
        return retry_after

    def _send(
        self,
        method: str,
        url: str,
        *,
        body: dict[str, Any] | None,
        headers: Mapping[str, str] | None,
        token: str,
        cost: int,
    ) -> GraphResponse:
        sent = {"Authorization": f"Bearer {token}", **with_immutable_ids(headers or {})}
        if self.budget is None:
            raw = self._http(method, url, body=body, headers=sent)
        else:
            with self.budget.request(mailbox=self.mailbox, cost=cost):
                raw = self._http(method, url, body=body, headers=sent)
        try:
            parsed = raw.json() if raw.content else {}
        except ValueError:
            parsed = {}
        return GraphResponse(
            status=raw.status_code,
            body=parsed if isinstance(parsed, dict) else {},
            headers=dict(raw.headers),
        )

    def _http(
        self, method: str, url: str, *, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> requests.Response:
        return self.session.request(
            method, url, json=body, headers=headers, timeout=self.timeout, allow_redirects=False
        )

    def raise_for_mailbox(
        self, response: GraphResponse, *, doing: str, token_renewed: bool = False
    ) -> None:
        """Answers that refuse the whole mailbox, not one contact: permanent.
        `token_renewed`: the refusal already came with a fresh token."""
        if response.status == 401:
            raise TargetError(
                f"Microsoft 365 refused Synchronizer's token while {doing} "
                f"({response.describe()}); the connection must be made again.",
                permanent=True,
            )
        if response.status == 403:
            if not token_renewed:
                # A refusal inside a $batch came with no chance of a fresh token: ask for
                # one now, which raises ConsentLost when the organisation withdrew consent.
                with self._token_lock:
                    self._token = self.tokens(fresh=True)
            raise TargetError(
                f"Microsoft 365 refused access to the mailbox {self.mailbox} while {doing} "
                f"({response.describe()}). The app may lack the Contacts.ReadWrite permission, or "
                "an application access policy of the organisation may exclude this mailbox.",
                permanent=True,
            )
        if response.status == 404 and response.error_code in MAILBOX_MISSING_CODES:
            raise TargetError(
                f"Microsoft 365 has no mailbox {self.mailbox} (or it is not enabled for Graph) "
                f"({response.describe()}); check the linked user's Microsoft 365 address.",
                permanent=True,
            )

    def get_pages(
        self, url: str, *, headers: Mapping[str, str] | None = None, doing: str
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following `@odata.nextLink`; pages other than 200
        raise a TargetError in words."""
        next_url: str | None = url
        while next_url:
            response = self.request("GET", next_url, headers=headers, doing=doing)
            if response.status != 200:
                raise self.unexpected(response, doing=doing)
            yield response.body
            link = response.body.get("@odata.nextLink")
            next_url = str(link) if link else None

    def unexpected(self, response: GraphResponse, *, doing: str) -> TargetError:
        permanent = response.status == 404 and response.error_code in MAILBOX_MISSING_CODES
        return TargetError(
            f"Microsoft 365 answered {response.describe()} while {doing}.", permanent=permanent
        )

    # -- $batch ----------------------------------------------------------------------------

    def batch(self, requests_: Sequence[SubRequest], *, doing: str) -> list[GraphResponse]:
        """Up to 20 sub-requests in one `$batch`; their answers in the same order, each to
        be judged on its own (a sub-request can be throttled inside a 200). The envelope is
        retried only when Graph ran none of it (429, 401); a lost envelope that carried a
        POST raises AnswerLost, for the caller to look before sending again."""
        if not requests_ or len(requests_) > BATCH_LIMIT:
            raise ValueError(f"A $batch carries 1 to {BATCH_LIMIT} requests.")
        entries = []
        for number, sub in enumerate(requests_, start=1):
            sub_headers = with_immutable_ids(sub.headers)
            entry: dict[str, Any] = {"id": str(number), "method": sub.method, "url": sub.url}
            if sub.body is not None:
                sub_headers["Content-Type"] = "application/json"
                entry["body"] = sub.body
            entry["headers"] = sub_headers
            entries.append(entry)
        idempotent = all(sub.method != "POST" for sub in requests_)
        response = self.request(
            "POST",
            "/$batch",
            body={"requests": entries},
            headers={"Content-Type": "application/json"},
            cost=len(entries),
            idempotent=idempotent,
            doing=doing,
        )
        if response.status != 200:
            if response.status in RETRYABLE and not idempotent:
                raise AnswerLost(f"Microsoft 365 answered {response.describe()} while {doing}.")
            raise self.unexpected(response, doing=doing)
        answers: dict[str, GraphResponse] = {}
        for item in response.body.get("responses") or []:
            body = item.get("body")
            answers[str(item.get("id"))] = GraphResponse(
                status=int(item.get("status") or 0),
                body=body if isinstance(body, dict) else {},
                headers=item.get("headers") or {},
            )
        # A sub-request without an answer is treated as one whose answer was lost.
        return [answers.get(str(n), GraphResponse(status=0)) for n in range(1, len(entries) + 1)]
