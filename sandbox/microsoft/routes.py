"""Handlers of the Graph subset: users, contact folders, contacts (delta is in ``delta``)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any

from sandbox.microsoft import contacts, delta, directory, mailbox, odata
from sandbox.microsoft.errors import GraphError, bad_request
from sandbox.microsoft.exchange import Context, GraphResponse

USERS_MAX_TOP = 999
USERS_DEFAULT_TOP = 100
CONTACTS_MAX_TOP = 1000
CONTACTS_DEFAULT_TOP = 10
USER_SELECTABLE = ("id", "displayName", "givenName", "surname", "mail", "userPrincipalName")

Handler = Callable[[Context, dict[str, str]], GraphResponse]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def handles(method: str, pattern: str) -> Callable[[Handler], Handler]:
    compiled = re.compile(
        "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "/?$", re.IGNORECASE
    )

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, compiled, handler))
        return handler

    return register


def route(*, context: Context) -> GraphResponse:
    request = context.request
    if context.user is None:
        if re.fullmatch(r"/users/?", request.path, re.IGNORECASE) and request.method == "GET":
            return list_users(context)
        raise GraphError(
            status=400, code="BadRequest",
            message=f"Resource not found for the segment '{request.path.strip('/')}'.",
        )  # fmt: skip
    matched_path = False
    for method, pattern, handler in ROUTES:
        match = pattern.match(context.rest)
        if match is None:
            continue
        matched_path = True
        if method == request.method:
            return handler(context, match.groupdict())
    if matched_path:
        raise GraphError(
            status=405, code="BadRequest", message=f"{request.method} is not allowed here."
        )
    raise GraphError(
        status=400, code="BadRequest",
        message=f"Resource not found for the segment '{context.rest.strip('/')}'.",
    )  # fmt: skip


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> GraphResponse:
    return GraphResponse(status=status, body=body, headers=headers or {})


def page(
    context: Context, body: dict[str, Any], *, following: dict[str, str] | None
) -> GraphResponse:
    """`body` answered, with the link to the page of the `following` query if there is one."""
    if following is not None:
        body["@odata.nextLink"] = odata.link(
            base=context.request.base_url, path=context.request.path, query=following
        )
    return ok(body)


def next_skip(query: dict[str, str], *, top: int, skip: int, more: bool) -> dict[str, str] | None:
    """The query of the next page by ``$skip``, if there is `more`."""
    return {**query, "$top": str(top), "$skip": str(skip + top)} if more else None


def user_of(context: Context) -> sqlite3.Row:
    assert context.user is not None
    return context.user


# --- users ------------------------------------------------------------------------------


def selected(*, item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return item
    return {key: value for key, value in item.items() if key in select or key == "id"}


def list_users(context: Context) -> GraphResponse:
    query = context.request.query
    database = context.runtime.database
    top = odata.top_of(query=query, default=USERS_DEFAULT_TOP, maximum=USERS_MAX_TOP, cap=False)
    offset = 0
    if "$skiptoken" in query:
        payload = odata.decode_token(token=query["$skiptoken"]) or {}
        offset = int(payload.get("offset", 0))
    where, params = "directory_id = ?", [context.caller.tenant_id]
    if query.get("$filter"):
        name, value = odata.property_filter(
            text=query["$filter"], allowed=("mail", "userPrincipalName", "displayName", "id")
        )
        column = {"mail": "mail", "userPrincipalName": "mail", "displayName": "display_name",
                  "id": "id"}[name]  # fmt: skip
        where += f" AND {column} = ? COLLATE NOCASE"
        params.append(value)
    rows = database.query(
        f"SELECT * FROM account WHERE {where} ORDER BY rowid LIMIT ? OFFSET ?",  # noqa: S608
        (*params, top + 1, offset),
    )
    select = odata.select_of(query=query)
    body: dict[str, Any] = {
        "@odata.context": f"{context.request.base_url}/$metadata#users",
        "value": [selected(item=directory.user_json(row=row), select=select) for row in rows[:top]],
    }
    following = None
    if len(rows) > top:
        following = {k: v for k, v in query.items() if k != "$skiptoken"}
        following["$skiptoken"] = odata.encode_token(payload={"offset": offset + top})
    return page(context, body, following=following)


@handles("GET", "")
def get_user(context: Context, _: dict[str, str]) -> GraphResponse:
    item = directory.user_json(row=user_of(context))
    return ok(selected(item=item, select=odata.select_of(query=context.request.query)))


# --- contact folders --------------------------------------------------------------------


@handles("GET", "/contactFolders")
def list_folders(context: Context, _: dict[str, str]) -> GraphResponse:
    query = context.request.query
    rows = mailbox.child_folders(database=context.runtime.database, user_id=user_of(context)["id"])
    if query.get("$filter"):
        wanted = odata.property_filter(text=query["$filter"], allowed=("displayName",))[1]
        rows = [row for row in rows if row["display_name"].casefold() == wanted.casefold()]
    top = odata.top_of(query=query, default=CONTACTS_DEFAULT_TOP, maximum=1000, cap=True)
    skip = odata.skip_of(query=query)
    body: dict[str, Any] = {
        "value": [mailbox.folder_json(row=row) for row in rows[skip : skip + top]]
    }
    more = len(rows) > skip + top
    return page(context, body, following=next_skip(query, top=top, skip=skip, more=more))


@handles("POST", "/contactFolders")
def create_folder(context: Context, _: dict[str, str]) -> GraphResponse:
    body = context.request.body
    if not isinstance(body, dict) or set(body) - {"displayName", "parentFolderId"}:
        raise bad_request(
            message="A contact folder body has only displayName", code="RequestBodyRead"
        )
    row = mailbox.folder_create(
        database=context.runtime.database, user_id=user_of(context)["id"],
        display_name=body.get("displayName"),
    )  # fmt: skip
    return ok(mailbox.folder_json(row=row), status=201)


@handles("GET", "/contactFolders/{folder}")
def get_folder(context: Context, match: dict[str, str]) -> GraphResponse:
    row = mailbox.folder_get(
        database=context.runtime.database, user_id=user_of(context)["id"], folder_id=match["folder"]
    )
    return ok(mailbox.folder_json(row=row))


@handles("DELETE", "/contactFolders/{folder}")
def delete_folder(context: Context, match: dict[str, str]) -> GraphResponse:
    mailbox.folder_delete(
        database=context.runtime.database, user_id=user_of(context)["id"], folder_id=match["folder"]
    )
    return ok(None, status=204)


# --- contacts ---------------------------------------------------------------------------


def folder_of(context: Context, match: dict[str, str]) -> sqlite3.Row:
    database, user_id = context.runtime.database, user_of(context)["id"]
    if "folder" in match:
        return mailbox.folder_get(database=database, user_id=user_id, folder_id=match["folder"])
    return mailbox.default_folder(database=database, user_id=user_id)


def shown(context: Context, row: sqlite3.Row, select: list[str] | None = None) -> dict[str, Any]:
    """A contact as JSON, with the extended properties ``$expand`` asks for."""
    item = contacts.contact_json(row=row, properties=mailbox.properties_of(row=row), select=select)
    expand, property_id = odata.expanded_property_id(query=context.request.query)
    if expand:
        key = None if property_id is None else contacts.property_key(property_id=property_id)
        found = mailbox.extended_of(
            database=context.runtime.database, contact_id=row["id"], key=key
        )
        if found:
            item[contacts.EXTENDED] = found
    return item


@handles("GET", "/contacts")
@handles("GET", "/contactFolders/{folder}/contacts")
def list_contacts(context: Context, match: dict[str, str]) -> GraphResponse:
    query = context.request.query
    folder = folder_of(context, match)
    where = ""
    params: tuple[str, ...] = ()
    text = query.get("$filter")
    if text:
        extended = odata.extended_filter(text=text)
        email = odata.email_filter(text=text)
        if extended is not None:
            key = contacts.property_key(property_id=extended[0])
            where = ("AND id IN (SELECT contact_id FROM ext_property WHERE prop_key = ?"
                     " AND value_fold = ?)")  # fmt: skip
            params = (key, extended[1].casefold())
        elif email is not None:
            where, params = "AND instr(lower(data), ?) > 0", (f'"address": "{email.lower()}"',)
        else:
            raise GraphError(
                status=400, code="ErrorInvalidUrlQueryFilter",
                message=f"The filter '{text}' is not supported.",
            )  # fmt: skip
    top = odata.top_of(
        query=query, default=CONTACTS_DEFAULT_TOP, maximum=CONTACTS_MAX_TOP, cap=True
    )
    skip = odata.skip_of(query=query)
    rows, more = mailbox.contacts_page(
        database=context.runtime.database, folder_id=folder["id"], where=where, params=params,
        offset=skip, limit=top,
    )  # fmt: skip
    select = odata.select_of(query=query)
    body: dict[str, Any] = {
        "@odata.context": f"{context.request.base_url}/$metadata#contacts",
        "value": [shown(context, row, select) for row in rows],
    }
    return page(context, body, following=next_skip(query, top=top, skip=skip, more=more))


@handles("POST", "/contacts")
@handles("POST", "/contactFolders/{folder}/contacts")
def create_contact(context: Context, match: dict[str, str]) -> GraphResponse:
    folder = folder_of(context, match)
    properties, extended = contacts.checked_body(body=context.request.body)
    row = mailbox.contact_create(
        database=context.runtime.database, user_id=user_of(context)["id"],
        folder_id=folder["id"], properties=properties, extended=extended,
    )  # fmt: skip
    return contact_answer(context, row, status=201)


def contact_answer(
    context: Context, row: sqlite3.Row, *, select: list[str] | None = None, status: int = 200
) -> GraphResponse:
    """The contact as Graph shows it, with its ETag (the change key)."""
    return ok(
        shown(context, row, select), status=status, headers={"ETag": f'W/"{row["change_key"]}"'}
    )


def contact_of(context: Context, match: dict[str, str]) -> sqlite3.Row:
    folder_id = folder_of(context, match)["id"] if "folder" in match else None
    return mailbox.contact_get(
        database=context.runtime.database, user_id=user_of(context)["id"],
        contact_id=match["contact"], folder_id=folder_id,
    )  # fmt: skip


@handles("GET", "/contactFolders/{folder}/contacts/delta")
def contacts_delta(context: Context, match: dict[str, str]) -> GraphResponse:
    folder = folder_of(context, match)
    return delta.answer(context=context, folder=folder)


@handles("GET", "/contacts/{contact}")
@handles("GET", "/contactFolders/{folder}/contacts/{contact}")
def get_contact(context: Context, match: dict[str, str]) -> GraphResponse:
    row = contact_of(context, match)
    select = odata.select_of(query=context.request.query)
    return contact_answer(context, row, select=select)


@handles("PATCH", "/contacts/{contact}")
@handles("PATCH", "/contactFolders/{folder}/contacts/{contact}")
def update_contact(context: Context, match: dict[str, str]) -> GraphResponse:
    row = contact_of(context, match)
    properties, extended = contacts.checked_body(body=context.request.body)
    updated = mailbox.contact_update(
        database=context.runtime.database, row=row, properties=properties, extended=extended,
        if_match=context.request.headers.get("if-match"),
    )  # fmt: skip
    return contact_answer(context, updated)


@handles("DELETE", "/contacts/{contact}")
@handles("DELETE", "/contactFolders/{folder}/contacts/{contact}")
def delete_contact(context: Context, match: dict[str, str]) -> GraphResponse:
    row = contact_of(context, match)
    mailbox.contact_delete(
        database=context.runtime.database, row=row,
        if_match=context.request.headers.get("if-match"),
    )  # fmt: skip
    return ok(None, status=204)
