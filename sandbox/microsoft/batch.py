"""``POST /v1.0/$batch``: up to 20 sub-requests, run one after another in ``dependsOn``
order, each through ``graph.execute`` (auth, faults, throttling) on its own.

While a batch runs it holds one in-flight slot per mailbox its sub-requests name; a mailbox
without a free slot answers 429 for its sub-requests inside the batch's 200. The outer
request's ``Prefer`` header does not apply to sub-requests (each carries its own).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.microsoft import graph
from sandbox.microsoft.errors import GraphError, bad_request
from sandbox.microsoft.exchange import GraphRequest, GraphResponse
from sandbox.microsoft.runtime import MicrosoftRuntime
from sandbox.microsoft.throttling import Throttled

MAX_REQUESTS = 20
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def checked(*, body: Any) -> list[dict[str, Any]]:
    """The sub-requests of a well-formed batch body, or 400 for the whole batch."""
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise bad_request(message="Invalid batch payload format: 'requests' is missing.")
    requests: list[dict[str, Any]] = body["requests"]
    if not requests:
        raise bad_request(message="Invalid batch payload format: 'requests' is empty.")
    if len(requests) > MAX_REQUESTS:
        raise bad_request(
            message=f"The number of requests in a batch ({len(requests)}) exceeds the limit of"
            f" {MAX_REQUESTS}.",
        )  # fmt: skip
    ids: set[str] = set()
    for item in requests:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(name), str) and item.get(name) for name in ("id", "method", "url")
        ):
            raise bad_request(message="Each batch request needs a string id, method and url.")
        if item["id"] in ids:
            raise bad_request(message=f"The batch request id '{item['id']}' is used twice.")
        ids.add(item["id"])
    for item in requests:
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or any(name not in ids for name in depends):
            raise bad_request(message=f"Request '{item['id']}' depends on an unknown request.")
    return requests


def sub_request(*, outer: GraphRequest, item: dict[str, Any]) -> GraphRequest:
    url: str = item["url"]
    if "://" in url:
        raise bad_request(message="A batch request url must be relative, e.g. /me/contacts.")
    parts = urlsplit(url if url.startswith("/") else "/" + url)
    path = unquote(parts.path)
    if path.lower().startswith("/v1.0/"):
        raise bad_request(message="A batch request url is relative to /v1.0.")
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    if item.get("body") is not None and "content-type" not in headers:
        raise bad_request(message="A batch request with a body needs a Content-Type header.")
    headers["authorization"] = outer.headers.get("authorization", "")
    method = item["method"].upper()
    if method not in METHODS:
        raise bad_request(message=f"Method {method} is not supported in a batch.")
    return GraphRequest(
        method=method, path=path, query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers, body=item.get("body"), base_url=outer.base_url,
    )  # fmt: skip


def mailboxes_of(
    *, runtime: MicrosoftRuntime, outer: GraphRequest, requests: list[GraphRequest]
) -> tuple[str, dict[str, str]]:
    """The caller's app id and the mailboxes (id → mail) the sub-requests name."""
    try:
        caller = graph.authenticate(runtime=runtime, request=outer)
    except GraphError:
        return "", {}
    found: dict[str, str] = {}
    for request in requests:
        try:
            user, _ = graph.resolve_mailbox(runtime=runtime, request=request, caller=caller)
        except GraphError:
            continue
        if user is not None:
            found[user["id"]] = user["mail"]
    return caller.client_id, found


def run(*, runtime: MicrosoftRuntime, outer: GraphRequest) -> tuple[GraphResponse, bool]:
    """The batch answer, and whether a fault says to lose it after running it."""
    items = checked(body=outer.body)
    runtime.counters.batch(size=len(items))
    prepared: dict[str, GraphRequest | GraphError] = {}
    for item in items:
        try:
            prepared[item["id"]] = sub_request(outer=outer, item=item)
        except GraphError as error:
            prepared[item["id"]] = error
    valid = [value for value in prepared.values() if isinstance(value, GraphRequest)]
    client_id, mailboxes = mailboxes_of(runtime=runtime, outer=outer, requests=valid)
    held: set[str] = set()
    refused: dict[str, Throttled] = {}
    for user_id, mail in mailboxes.items():
        try:
            runtime.throttle.hold(key=(client_id, user_id), label=mail)
            held.add(user_id)
        except Throttled as throttled:
            refused[user_id] = throttled
    statuses: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    lost = False
    try:
        latency = runtime.faults.take(kind="latency", method="POST", target="/$batch")
        if latency is not None:
            time.sleep(latency.latency_ms / 1000)
        pending = list(items)
        while pending:
            ready = [i for i in pending if all(d in statuses for d in i.get("dependsOn", []))]
            if not ready:  # a dependency cycle: fail what is left
                ready = pending
            for item in ready:
                pending.remove(item)
                response, lose = run_one(
                    runtime=runtime, item=item, prepared=prepared[item["id"]],
                    statuses=statuses, held=frozenset(held), refused=refused,
                )  # fmt: skip
                lost = lost or lose
                statuses[item["id"]] = response.status
                responses.append(sub_response(item_id=item["id"], response=response))
    finally:
        for user_id in held:
            runtime.throttle.leave(key=(client_id, user_id))
    return GraphResponse(status=200, body={"responses": responses}), lost


def run_one(
    *, runtime: MicrosoftRuntime, item: dict[str, Any], prepared: GraphRequest | GraphError,
    statuses: dict[str, int], held: frozenset[str], refused: dict[str, Throttled],
) -> tuple[GraphResponse, bool]:  # fmt: skip
    if isinstance(prepared, GraphError):
        return graph.error_response(error=prepared), False
    failed = [d for d in item.get("dependsOn", []) if statuses.get(d, 424) >= 400]
    if failed:
        error = GraphError(
            status=424, code="FailedDependency",
            message=f"The request depends on {', '.join(failed)}, which failed.",
        )  # fmt: skip
        return graph.error_response(error=error), False
    target = prepared.path + ("?" + "&".join(f"{k}={v}" for k, v in prepared.query.items())
                              if prepared.query else "")  # fmt: skip
    response = graph.execute(runtime=runtime, request=prepared, held=held, refused=refused)
    if response.injected:
        return response, False
    lose = runtime.faults.take(kind="lose_response", method=prepared.method, target=target)
    return response, lose is not None


def sub_response(*, item_id: str, response: GraphResponse) -> dict[str, Any]:
    headers = dict(response.headers)
    if response.body is not None:
        headers.setdefault("Content-Type", "application/json")
    answer: dict[str, Any] = {"id": item_id, "status": response.status, "headers": headers}
    if response.body is not None:
        answer["body"] = response.body
    return answer
