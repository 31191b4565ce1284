"""``$batch``: sub-requests answered inside a 200, the 20-request limit, ``dependsOn``,
throttling and faults per sub-request, and the ImmutableId count."""

from __future__ import annotations

from typing import Any

from sandbox.microsoft.testing import MicrosoftControl
from tests.sandbox.microsoft.conftest import IMMUTABLE, Directory, Graph


def sub(number: int, user: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(number),
        "method": "POST",
        "url": f"/users/{user}/contacts",
        "headers": {"Content-Type": "application/json", **IMMUTABLE},
        "body": {"givenName": f"Person {number}"},
        **extra,
    }


def by_id(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in answer["responses"]}


def test_batch_runs_each_request(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    user = contoso.user["id"]
    answer = graph.post(
        "/$batch",
        json={"requests": [sub(1, user), sub(2, user), {"id": "3", "method": "GET",
                                                         "url": f"/users/{user}/contacts"}]},
    )  # fmt: skip

    assert answer.status_code == 200
    responses = by_id(answer.json())
    assert responses["1"]["status"] == 201
    assert responses["1"]["body"]["givenName"] == "Person 1"
    assert responses["3"]["status"] == 200
    assert len(microsoft.contacts_of(user=user)) == 2
    stats = microsoft.stats()
    assert stats["batches"] == 1
    assert stats["largest_batch"] == 3
    assert stats["without_immutable_id"] == 1  # the GET sub-request had no Prefer header


def test_more_than_twenty_requests_are_refused(graph: Graph, contoso: Directory) -> None:
    answer = graph.post(
        "/$batch", json={"requests": [sub(n, contoso.user["id"]) for n in range(21)]}
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadRequest"


def test_failed_dependency_answers_424(graph: Graph, contoso: Directory) -> None:
    user = contoso.user["id"]
    broken = {**sub(1, user), "body": {"nonsense": True}}

    answer = by_id(
        graph.post(
            "/$batch", json={"requests": [broken, sub(2, user, dependsOn=["1"]), sub(3, user)]}
        ).json()
    )

    assert answer["1"]["status"] == 400
    assert answer["2"]["status"] == 424
    assert answer["3"]["status"] == 201


def test_throttled_sub_request_answers_429_inside_200(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    microsoft.throttling_set(budget=2, window_seconds=30)
    user = contoso.user["id"]

    answer = graph.post("/$batch", json={"requests": [sub(n, user) for n in range(4)]})

    assert answer.status_code == 200
    statuses = sorted(item["status"] for item in answer.json()["responses"])
    assert statuses == [201, 201, 429, 429]
    throttled = next(item for item in answer.json()["responses"] if item["status"] == 429)
    assert int(throttled["headers"]["Retry-After"]) >= 1
    assert throttled["body"]["error"]["code"] == "TooManyRequests"


def test_fault_on_a_sub_request_and_lost_batch_answer(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    user = contoso.user["id"]
    microsoft.fault_add(path_contains="/contacts", method="POST", status=503, times=1,
                        retry_after=2)  # fmt: skip

    first = by_id(graph.post("/$batch", json={"requests": [sub(1, user), sub(2, user)]}).json())

    assert first["1"]["status"] == 503
    assert first["1"]["headers"]["Retry-After"] == "2"
    assert first["2"]["status"] == 201
    microsoft.fault_add(path_contains="/contacts", method="POST", kind="lose_response", times=1)
    lost = graph.post("/$batch", json={"requests": [sub(3, user)]})
    assert lost.status_code == 504
    names = {item["givenName"] for item in microsoft.contacts_of(user=user)}
    assert names == {"Person 2", "Person 3"}  # stored although the answer was lost


def test_malformed_batches(graph: Graph, contoso: Directory) -> None:
    user = contoso.user["id"]
    assert graph.post("/$batch", json={"nothing": []}).status_code == 400
    duplicate = graph.post("/$batch", json={"requests": [sub(1, user), sub(1, user)]})
    assert duplicate.status_code == 400
    no_type = {**sub(1, user), "headers": {}}
    inside = by_id(graph.post("/$batch", json={"requests": [no_type]}).json())
    assert inside["1"]["status"] == 400
