"""Outlook's per-mailbox limits: concurrent requests and a sliding request budget."""

from __future__ import annotations

import threading

import requests

from sandbox.microsoft.testing import MicrosoftControl
from tests.sandbox.microsoft.conftest import Directory, Graph


def test_concurrency_over_the_limit_answers_429(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    microsoft.throttling_set(concurrency=2)
    microsoft.fault_add(path_contains="/contacts", latency_ms=400)
    user = contoso.user["id"]
    answers: list[requests.Response] = []

    def call() -> None:
        answers.append(graph.get(f"/users/{user}/contacts"))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 200, 429, 429]
    throttled = next(answer for answer in answers if answer.status_code == 429)
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "TooManyRequests"
    usage = microsoft.stats()["mailboxes"][contoso.user["mail"]]
    assert usage["max_concurrent"] == 2
    assert usage["throttled"] == 2
    # another mailbox is not affected
    assert graph.get(f"/users/{contoso.other['id']}/contacts").status_code == 200


def test_batch_holds_one_slot_per_mailbox(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    microsoft.throttling_set(concurrency=1)
    microsoft.fault_add(path_contains="$batch", latency_ms=400)
    user = contoso.user["id"]
    batch = {"requests": [{"id": str(n), "method": "GET", "url": f"/users/{user}/contacts"}
                          for n in range(3)]}  # fmt: skip
    results: list[requests.Response] = []
    thread = threading.Thread(target=lambda: results.append(graph.post("/$batch", json=batch)))
    thread.start()
    thread.join(0.05)

    alone = graph.get(f"/users/{user}/contacts")
    thread.join()

    assert alone.status_code == 429
    assert [item["status"] for item in results[0].json()["responses"]] == [200, 200, 200]
    second: list[requests.Response] = []
    thread = threading.Thread(target=lambda: second.append(graph.post("/$batch", json=batch)))
    thread.start()
    thread.join(0.05)
    refused = graph.post("/$batch", json=batch)
    thread.join()
    assert [item["status"] for item in refused.json()["responses"]] == [429, 429, 429]
    assert microsoft.stats()["mailboxes"][contoso.user["mail"]]["throttled"] == 4


def test_budget_answers_429_until_the_window_moves(
    graph: Graph, contoso: Directory, microsoft: MicrosoftControl
) -> None:
    microsoft.throttling_set(budget=3, window_seconds=5)
    path = f"/users/{contoso.user['id']}/contacts"

    statuses = [graph.get(path).status_code for _ in range(4)]
    refused = graph.get(path)

    assert statuses == [200, 200, 200, 429]
    assert 1 <= int(refused.headers["Retry-After"]) <= 5
    usage = microsoft.stats()["mailboxes"][contoso.user["mail"]]
    assert usage["requests_in_window"] == 3
    assert usage["throttled"] == 2
    assert graph.get(f"/users/{contoso.other['id']}/contacts").status_code == 200
