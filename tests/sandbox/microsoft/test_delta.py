"""Delta on a contact folder: full state in pages, then changes, removals, and 410 once
the tokens expired."""

from __future__ import annotations

from typing import Any

from sandbox.microsoft.testing import MicrosoftControl
from tests.sandbox.microsoft.conftest import Directory, Graph


def drain(graph: Graph, url: str, **kwargs: Any) -> tuple[list[dict[str, Any]], str, int]:
    """Every item of one round, its deltaLink and the number of pages."""
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = graph.get(url, **kwargs)
        assert page.status_code == 200, page.text
        pages += 1
        body = page.json()
        items.extend(body["value"])
        if "@odata.deltaLink" in body:
            return items, body["@odata.deltaLink"], pages
        url = body["@odata.nextLink"]
        kwargs.pop("params", None)


def test_delta_rounds(graph: Graph, contoso: Directory, microsoft: MicrosoftControl) -> None:
    user = contoso.user["id"]
    folder = graph.post(f"/users/{user}/contactFolders", json={"displayName": "Sync"}).json()["id"]
    base = f"/users/{user}/contactFolders/{folder}/contacts"
    ids = [graph.post(base, json={"givenName": f"P{n}"}).json()["id"] for n in range(5)]
    graph.post(f"/users/{user}/contacts", json={"givenName": "Elsewhere"})
    prefer = {"Prefer": 'odata.maxpagesize=2, IdType="ImmutableId"'}

    items, delta_link, pages = drain(
        graph, f"{base}/delta", params={"$select": "givenName"}, headers=prefer
    )

    assert sorted(item["id"] for item in items) == sorted(ids)
    assert pages == 3
    assert set(items[0]) == {"@odata.etag", "id", "givenName"}
    empty, delta_link, _ = drain(graph, delta_link, headers=prefer)
    assert empty == []

    graph.patch(f"{base}/{ids[0]}", json={"surname": "Changed"})
    graph.delete(f"{base}/{ids[1]}")
    microsoft.contact_edit(user=user, contact_id=ids[2], givenName="Outlook")
    added = graph.post(base, json={"givenName": "New"}).json()["id"]
    changes, delta_link, _ = drain(graph, delta_link, headers=prefer)

    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {ids[0], ids[1], ids[2], added}
    assert by_id[ids[1]]["@removed"] == {"reason": "deleted"}
    assert by_id[ids[2]]["givenName"] == "Outlook"
    assert "surname" not in by_id[ids[0]]  # $select is kept in the links

    microsoft.delta_expire()
    gone = graph.get(delta_link)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "syncStateNotFound"
    assert graph.get(f"{base}/delta", params={"$skiptoken": "garbage"}).status_code == 410
