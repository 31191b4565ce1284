"""Delta queries on a contact folder.

A round starts with the folder's full state, paged with ``$skiptoken`` links, and ends with
a ``$deltatoken`` link; the next round returns what changed since (a deleted contact as
``{"id", "@removed": {"reason": "deleted"}}``). Tokens are opaque base64 JSON holding the
folder, a change-log position and ``$select``; ``POST /_sandbox/delta/expire`` bumps an
epoch so that every token issued before answers 410 Gone.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from sandbox.microsoft import contacts, mailbox, odata
from sandbox.microsoft.errors import GraphError
from sandbox.microsoft.exchange import Context, GraphResponse

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


def page_size(*, prefer: str) -> int | None:
    match = PAGE_SIZE.search(prefer)
    return None if match is None else max(1, min(MAX_PAGE_SIZE, int(match[1])))


def gone(*, context: Context) -> GraphError:
    location = f"{context.request.base_url}{context.request.path}?$deltatoken="
    return GraphError(
        status=410, code="syncStateNotFound",
        message="The sync state is not found or has expired; start again with a full sync.",
        headers={"Location": location},
    )  # fmt: skip


def answer(*, context: Context, folder: sqlite3.Row) -> GraphResponse:
    runtime, request = context.runtime, context.request
    epoch = runtime.delta_epoch()
    size = page_size(prefer=request.headers.get("prefer", ""))
    token = request.query.get("$skiptoken") or request.query.get("$deltatoken")
    if token:
        state = odata.decode_token(token=token)
        if not state or state.get("e") != epoch or state.get("f") != folder["id"]:
            raise gone(context=context)
    else:
        newest = runtime.database.scalar("SELECT MAX(seq) FROM change_log") or 0
        state = {"e": epoch, "f": folder["id"], "s": odata.select_of(query=request.query),
                 "m": "full", "to": newest, "after": 0}  # fmt: skip
    if "$deltatoken" in request.query:
        newest = runtime.database.scalar("SELECT MAX(seq) FROM change_log") or 0
        state = {**state, "m": "changes", "from": state["since"], "to": newest, "after": 0}
    limit = int(size or state.get("n") or DEFAULT_PAGE_SIZE)
    state["n"] = limit
    select = state.get("s")
    if state["m"] == "full":
        rows = runtime.database.query(
            "SELECT rowid AS position, * FROM contact WHERE folder_id = ? AND rowid > ?"
            " ORDER BY rowid LIMIT ?",
            (folder["id"], state["after"], limit + 1),
        )
        items = [item_of(row=row, select=select) for row in rows[:limit]]
        last = rows[limit - 1]["position"] if len(rows) > limit else None
    else:
        changes = runtime.database.query(
            "SELECT contact_id, MAX(seq) AS position FROM change_log WHERE folder_id = ?"
            " AND seq > ? AND seq <= ? GROUP BY contact_id HAVING MAX(seq) > ?"
            " ORDER BY position LIMIT ?",
            (folder["id"], state["from"], state["to"], state["after"], limit + 1),
        )
        items = [changed_item(context=context, folder=folder, contact_id=row["contact_id"],
                              select=select) for row in changes[:limit]]  # fmt: skip
        last = changes[limit - 1]["position"] if len(changes) > limit else None
    body: dict[str, Any] = {
        "@odata.context": f"{request.base_url}/$metadata#Collection(contact)",
        "value": items,
    }
    if last is not None:
        following = {**state, "after": last}
        body["@odata.nextLink"] = odata.link(
            base=request.base_url, path=request.path,
            query={"$skiptoken": odata.encode_token(payload=following)},
        )  # fmt: skip
    else:
        finished = {"e": epoch, "f": folder["id"], "s": select, "n": state.get("n"),
                    "since": state["to"]}  # fmt: skip
        body["@odata.deltaLink"] = odata.link(
            base=request.base_url, path=request.path,
            query={"$deltatoken": odata.encode_token(payload=finished)},
        )  # fmt: skip
    headers = {} if size is None else {"Preference-Applied": f"odata.maxpagesize={size}"}
    return GraphResponse(status=200, body=body, headers=headers)


def item_of(*, row: sqlite3.Row, select: list[str] | None) -> dict[str, Any]:
    return contacts.contact_json(row=row, properties=mailbox.properties_of(row=row), select=select)


def changed_item(
    *, context: Context, folder: sqlite3.Row, contact_id: str, select: list[str] | None
) -> dict[str, Any]:
    row = context.runtime.database.query_one(
        "SELECT * FROM contact WHERE id = ? AND folder_id = ?", (contact_id, folder["id"])
    )
    if row is None:
        return {"@odata.type": "#microsoft.graph.contact", "id": contact_id,
                "@removed": {"reason": "deleted"}}  # fmt: skip
    return item_of(row=row, select=select)
