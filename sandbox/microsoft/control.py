"""The control API under ``/_sandbox/``: reset, directories and users, consent and grants,
mailbox contents ("edits in Outlook"), throttling, delta tokens, stats and faults.

No authentication, loopback callers only; JSON in and out. Bad input answers 400 with
``{"error": message}``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from flask import Blueprint, Response, jsonify

from sandbox.control import bad_input, json_body, loopback_only
from sandbox.microsoft import contacts, directory, mailbox
from sandbox.microsoft.directory import DirectoryError
from sandbox.microsoft.errors import GraphError
from sandbox.microsoft.runtime import MicrosoftRuntime, current_runtime

blueprint = Blueprint("microsoft_control", __name__, url_prefix="/_sandbox")
blueprint.before_request(loopback_only)

P = ParamSpec("P")


def answers_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """Bad input becomes 400 (404 for unknown things) with a message, not a stack trace."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except GraphError as error:
            response = jsonify({"error": error.message, "code": error.code})
            response.status_code = error.status
            return response
        except (DirectoryError, KeyError, TypeError, ValueError) as error:
            return bad_input(error)

    return wrapper


@blueprint.get("/health")
def health() -> Response:
    runtime = current_runtime()
    return jsonify(
        {
            "ok": True,
            "graph_url": runtime.addresses.http(),
            "login_url": runtime.addresses.https(),
            "ca_bundle": str(runtime.cert_path),
            "client_id": runtime.config.client_id,
        }
    )


@blueprint.post("/reset")
def reset() -> Response:
    current_runtime().reset()
    return jsonify({"ok": True})


# --- directories, users, consent ---------------------------------------------------------


@blueprint.get("/directories")
def directories() -> Response:
    runtime = current_runtime()
    return jsonify(
        directory.directories_json(database=runtime.database, client_id=runtime.config.client_id)
    )


@blueprint.post("/directories")
@answers_errors
def directory_create() -> Response:
    data = json_body()
    created = directory.create_directory(
        database=current_runtime().database, name=str(data["name"]), domain=str(data["domain"])
    )
    return jsonify(created)


@blueprint.post("/directories/<directory_id>/users")
@answers_errors
def user_create(directory_id: str) -> Response:
    data = json_body()
    created = directory.create_user(
        database=current_runtime().database, directory_id=directory_id,
        display_name=str(data["displayName"]), mail=str(data["mail"]),
        is_admin=bool(data.get("isAdmin", False)),
    )  # fmt: skip
    return jsonify(created)


@blueprint.post("/directories/<directory_id>/consent")
@answers_errors
def consent(directory_id: str) -> Response:
    runtime = current_runtime()
    granted = json_body().get("granted", True)
    if not isinstance(granted, bool):
        raise ValueError("granted must be true or false")
    directory.set_consent(
        database=runtime.database, directory_id=directory_id,
        client_id=runtime.config.client_id, granted=granted,
    )  # fmt: skip
    return jsonify({"ok": True, "consent": "granted" if granted else "revoked"})


@blueprint.post("/users/<user_id>/grants/revoke")
@answers_errors
def grant_revoke(user_id: str) -> Response:
    revoked = directory.revoke_grants(database=current_runtime().database, user_id=user_id)
    return jsonify({"ok": True, "revoked": revoked})


# --- mailbox contents --------------------------------------------------------------------


def mailbox_user(*, runtime: MicrosoftRuntime, key: str) -> sqlite3.Row:
    user = directory.find_user(database=runtime.database, key=key)
    if user is None:
        raise GraphError(status=404, code="ErrorInvalidUser", message=f"No user {key}")
    return user


def contact_for_control(*, runtime: MicrosoftRuntime, row: sqlite3.Row) -> dict[str, Any]:
    """Everything about one contact, for assertions: folder name, all properties, extended
    properties."""
    folder = runtime.database.query_one("SELECT * FROM folder WHERE id = ?", (row["folder_id"],))
    item = contacts.contact_json(row=row, properties=mailbox.properties_of(row=row), select=None)
    item["folder"] = (
        None if folder is None or folder["parent_id"] is None else folder["display_name"]
    )
    item[contacts.EXTENDED] = mailbox.extended_of(database=runtime.database, contact_id=row["id"])
    return item


def contacts_in(*, runtime: MicrosoftRuntime, user: sqlite3.Row) -> list[dict[str, Any]]:
    rows = runtime.database.query(
        "SELECT * FROM contact WHERE user_id = ? ORDER BY rowid", (user["id"],)
    )
    return [contact_for_control(runtime=runtime, row=row) for row in rows]


@blueprint.get("/mailboxes/<key>/contacts")
@answers_errors
def mailbox_contacts(key: str) -> Response:
    runtime = current_runtime()
    return jsonify(contacts_in(runtime=runtime, user=mailbox_user(runtime=runtime, key=key)))


@blueprint.post("/mailboxes/<key>/contacts")
@answers_errors
def mailbox_contact_add(key: str) -> Response:
    """A contact the user made in Outlook (``folder`` null: the default folder; a folder
    name that does not exist yet is created)."""
    runtime = current_runtime()
    user = mailbox_user(runtime=runtime, key=key)
    data = json_body()
    name = data.pop("folder", None)
    if name is None:
        folder = mailbox.default_folder(database=runtime.database, user_id=user["id"])
    else:
        folder = mailbox.folder_by_name(
            database=runtime.database, user_id=user["id"], name=str(name)
        ) or mailbox.folder_create(database=runtime.database, user_id=user["id"], display_name=name)
    properties, extended = contacts.checked_body(body=data)
    row = mailbox.contact_create(
        database=runtime.database, user_id=user["id"], folder_id=folder["id"],
        properties=properties, extended=extended,
    )  # fmt: skip
    return jsonify(contact_for_control(runtime=runtime, row=row))


@blueprint.patch("/mailboxes/<key>/contacts/<contact_id>")
@answers_errors
def mailbox_contact_edit(key: str, contact_id: str) -> Response:
    runtime = current_runtime()
    user = mailbox_user(runtime=runtime, key=key)
    row = mailbox.contact_get(database=runtime.database, user_id=user["id"], contact_id=contact_id)
    properties, extended = contacts.checked_body(body=json_body())
    updated = mailbox.contact_update(
        database=runtime.database, row=row, properties=properties, extended=extended
    )
    return jsonify(contact_for_control(runtime=runtime, row=updated))


@blueprint.delete("/mailboxes/<key>/contacts/<contact_id>")
@answers_errors
def mailbox_contact_delete(key: str, contact_id: str) -> Response:
    runtime = current_runtime()
    user = mailbox_user(runtime=runtime, key=key)
    row = mailbox.contact_get(database=runtime.database, user_id=user["id"], contact_id=contact_id)
    mailbox.contact_delete(database=runtime.database, row=row)
    return jsonify({"ok": True})


# --- throttling, tokens, delta, stats, faults --------------------------------------------


@blueprint.get("/throttling")
def throttling() -> Response:
    return jsonify(current_runtime().throttle.settings())


@blueprint.post("/throttling")
@answers_errors
def throttling_set() -> Response:
    return jsonify(current_runtime().throttle.configure(changes=json_body()))


@blueprint.post("/tokens")
@answers_errors
def tokens_set() -> Response:
    """``{"lifetime": seconds}``: the lifetime of access tokens issued from now on."""
    lifetime = int(json_body()["lifetime"])
    if lifetime < 1:
        raise ValueError("lifetime must be at least 1 second")
    current_runtime().token_lifetime = lifetime
    return jsonify({"lifetime": lifetime})


@blueprint.post("/delta/expire")
def delta_expire() -> Response:
    return jsonify({"ok": True, "epoch": current_runtime().expire_delta_tokens()})


def stats_json(*, runtime: MicrosoftRuntime) -> dict[str, Any]:
    return {"mailboxes": runtime.throttle.snapshot(), **runtime.counters.snapshot()}


@blueprint.get("/stats")
def stats() -> Response:
    return jsonify(stats_json(runtime=current_runtime()))


@blueprint.post("/stats/clear")
def stats_clear() -> Response:
    runtime = current_runtime()
    runtime.counters.clear()
    runtime.throttle.clear()
    return jsonify({"ok": True})


@blueprint.get("/faults")
def faults() -> Response:
    return jsonify(current_runtime().faults.snapshot())


@blueprint.post("/faults")
@answers_errors
def fault_add() -> Response:
    return jsonify(current_runtime().faults.add(spec=json_body()))


@blueprint.delete("/faults")
def faults_clear() -> Response:
    current_runtime().faults.clear()
    return jsonify({"ok": True})
