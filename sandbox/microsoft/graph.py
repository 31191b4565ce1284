"""One Graph request, top-level or inside a ``$batch``: counters, faults, token, target
mailbox, permissions, throttling, then the handler in ``routes``.

Top-level requests and sub-requests go through ``execute`` alike, so a sub-request can be
throttled, faulted or refused on its own and answer inside the batch's 200.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time

import jwt

from sandbox.microsoft import directory, routes
from sandbox.microsoft.errors import GraphError
from sandbox.microsoft.exchange import Context, GraphRequest, GraphResponse
from sandbox.microsoft.runtime import MicrosoftRuntime
from sandbox.microsoft.throttling import Throttled
from sandbox.microsoft.tokens import Caller, verify_access_token

MAILBOX_PATH = re.compile(r"^/(?:(me)|users/([^/]+))(/.*)?$", re.IGNORECASE)


def error_response(*, error: GraphError) -> GraphResponse:
    return GraphResponse(status=error.status, body=error.body(), headers=dict(error.headers))


def authenticate(*, runtime: MicrosoftRuntime, request: GraphRequest) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GraphError(
            status=401, code="InvalidAuthenticationToken", message="Access token is empty."
        )
    try:
        caller = verify_access_token(runtime=runtime, token=token.strip())
    except jwt.ExpiredSignatureError as error:
        raise GraphError(
            status=401, code="InvalidAuthenticationToken",
            message="Lifetime validation failed, the token is expired.",
        ) from error  # fmt: skip
    except jwt.InvalidTokenError as error:
        raise GraphError(
            status=401,
            code="InvalidAuthenticationToken",
            message="Access token validation failure.",
        ) from error
    if caller.kind == "delegated":
        assert caller.user_id is not None
        grant = directory.grant_row(
            database=runtime.database, user_id=caller.user_id, client_id=caller.client_id
        )
        if (
            grant is None
            or grant["revoked_at"] is not None
            or caller.issued_at < math.floor(grant["granted_at"])
        ):
            raise GraphError(
                status=401, code="InvalidAuthenticationToken",
                message="The user's grant for this application was revoked; the token is no"
                " longer valid.",
            )  # fmt: skip
    return caller


def resolve_mailbox(
    *, runtime: MicrosoftRuntime, request: GraphRequest, caller: Caller
) -> tuple[sqlite3.Row | None, str]:
    """The user whose data the path names (None for ``/users`` itself) and the rest of it."""
    match = MAILBOX_PATH.match(request.path)
    if match is None:
        return None, request.path
    rest = match[3] or ""
    if match[1]:
        if caller.kind != "delegated":
            raise GraphError(
                status=400, code="BadRequest",
                message="/me is only valid with delegated authentication.",
            )  # fmt: skip
        assert caller.user_id is not None
        user = directory.find_user(database=runtime.database, key=caller.user_id)
    else:
        user = directory.find_user(
            database=runtime.database, key=match[2], directory_id=caller.tenant_id
        )
    if user is None:
        if not rest:
            raise GraphError(
                status=404, code="Request_ResourceNotFound",
                message=f"Resource '{match[2]}' does not exist.",
            )  # fmt: skip
        raise GraphError(
            status=404, code="ErrorInvalidUser",
            message=f"The requested user '{match[2]}' is invalid.",
        )  # fmt: skip
    if caller.kind == "delegated" and user["id"] != caller.user_id:
        raise GraphError(
            status=403, code="ErrorAccessDenied",
            message="Access is denied. Check credentials and try again.",
        )  # fmt: skip
    return user, rest


def check_permissions(
    *, runtime: MicrosoftRuntime, caller: Caller, mailbox: bool, write: bool, own_profile: bool
) -> None:
    """App tokens need the directory's consent (checked live) and the role; delegated
    tokens the scope (any delegated token may read its own user)."""
    denied_code = "ErrorAccessDenied" if mailbox else "Authorization_RequestDenied"
    if caller.kind == "app":
        state = directory.consent_state(
            database=runtime.database, directory_id=caller.tenant_id, client_id=caller.client_id
        )
        if state != "granted":
            raise GraphError(
                status=403, code=denied_code,
                message="Access is denied: the application's consent in this directory was"
                " revoked.",
            )  # fmt: skip
        needed = {"Contacts.ReadWrite"} if mailbox else {"User.Read.All", "User.ReadWrite.All"}
        if mailbox and not write:
            needed.add("Contacts.Read")
    elif own_profile:
        return
    else:
        needed = {"Contacts.ReadWrite"} if mailbox else {"User.Read.All", "User.ReadBasic.All"}
        if mailbox and not write:
            needed.add("Contacts.Read")
    if not needed & caller.permissions:
        raise GraphError(
            status=403, code=denied_code,
            message="Insufficient privileges to complete the operation.",
        )  # fmt: skip


def execute(
    *, runtime: MicrosoftRuntime, request: GraphRequest, held: frozenset[str] = frozenset(),
    refused: dict[str, Throttled] | None = None,
) -> GraphResponse:  # fmt: skip
    """Run one request. ``held``: mailboxes whose in-flight slot a batch already holds;
    ``refused``: mailboxes the batch could not get a slot for (their sub-requests get 429)."""
    runtime.counters.request(
        method=request.method, path=request.path, prefer=request.headers.get("prefer", "")
    )
    target = request.path + ("?" + "&".join(f"{k}={v}" for k, v in request.query.items())
                             if request.query else "")  # fmt: skip
    rule = runtime.faults.take(kind="status", method=request.method, target=target)
    if rule is not None:
        headers = {} if rule.retry_after is None else {"Retry-After": str(rule.retry_after)}
        injected = finish(
            runtime=runtime,
            error=GraphError(
                status=rule.status, code=rule.code or default_code(status=rule.status),
                message="Injected fault.", headers=headers,
            ),
        )  # fmt: skip
        injected.injected = True
        return injected
    key: tuple[str, str] | None = None
    try:
        caller = authenticate(runtime=runtime, request=request)
        user, rest = resolve_mailbox(runtime=runtime, request=request, caller=caller)
        mailbox = user is not None and bool(rest)
        check_permissions(
            runtime=runtime,
            caller=caller,
            mailbox=mailbox,
            write=request.method != "GET",
            own_profile=user is not None and not rest,
        )
        if user is not None:
            if refused and user["id"] in refused:
                runtime.throttle.refuse(key=(caller.client_id, user["id"]), label=user["mail"])
                raise throttled_error(throttled=refused[user["id"]])
            key = (caller.client_id, user["id"])
            hold = user["id"] not in held
            try:
                runtime.throttle.enter(key=key, label=user["mail"], hold=hold)
            except Throttled as throttled:
                key = None
                raise throttled_error(throttled=throttled) from throttled
            if not hold:
                key = None
        latency = runtime.faults.take(kind="latency", method=request.method, target=target)
        if latency is not None:
            time.sleep(latency.latency_ms / 1000)
        context = Context(runtime=runtime, request=request, caller=caller, user=user, rest=rest)
        response = routes.route(context=context)
    except GraphError as error:
        return finish(runtime=runtime, error=error)
    finally:
        if key is not None:
            runtime.throttle.leave(key=key)
    runtime.counters.status(status=response.status)
    return response


def finish(*, runtime: MicrosoftRuntime, error: GraphError) -> GraphResponse:
    runtime.counters.status(status=error.status)
    return error_response(error=error)


def throttled_error(*, throttled: Throttled) -> GraphError:
    return GraphError(
        status=429, code="TooManyRequests",
        message=f"Application is over its {throttled.limit} limit.",
        headers={"Retry-After": str(throttled.retry_after)},
    )  # fmt: skip


def default_code(*, status: int) -> str:
    return {
        400: "BadRequest", 401: "InvalidAuthenticationToken", 403: "ErrorAccessDenied",
        404: "ErrorItemNotFound", 409: "ErrorFolderExists", 429: "TooManyRequests",
        500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }.get(status, "generalException")  # fmt: skip
