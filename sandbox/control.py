"""The control API under ``/_sandbox/``: reset, faults, data changes, request counts.

No authentication, loopback callers only. Bodies and answers are JSON. Errors answer
400 with ``{"error": message}``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from ipaddress import ip_address
from typing import Any, ParamSpec

from flask import Blueprint, Response, jsonify, request

from sandbox import mutations
from sandbox.faults import FaultError
from sandbox.mutations import MutationError
from sandbox.oidc import revoke_consent
from sandbox.runtime import current_runtime
from sandbox.tenants import request_hostname

blueprint = Blueprint("control", __name__, url_prefix="/_sandbox")

P = ParamSpec("P")


@blueprint.before_request
def loopback_only() -> Response | None:
    try:
        loopback = ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        response = jsonify({"error": "The sandbox control API answers loopback callers only"})
        response.status_code = 403
        return response
    return None


def bad_input(error: Exception) -> Response:
    """400 with the error in words (a missing field named as such), not a stack trace."""
    message = f"Missing field {error}" if isinstance(error, KeyError) else str(error)
    response = jsonify({"error": message})
    response.status_code = 400
    return response


def answers_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """Turn bad input into 400 with a message instead of a stack trace."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except (MutationError, FaultError, KeyError, TypeError, ValueError) as error:
            return bad_input(error)

    return wrapper


def json_body() -> dict[str, Any]:
    """The request's JSON object ({} without a body)."""
    data = request.get_json(silent=True)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("The body must be a JSON object")
    return data


def body() -> dict[str, Any]:
    """The JSON object, with query parameters for the fields it does not give."""
    data = json_body()
    data.update({key: value for key, value in request.args.items() if key not in data})
    return data


def tenant_of(data: dict[str, Any]) -> str:
    tenant = data.get("tenant")
    if not tenant:
        raise MutationError("Give the tenant (context identifier, e.g. Cust10001)")
    return str(tenant)


@blueprint.get("/health")
def health() -> Response:
    runtime = current_runtime()
    return jsonify({"ok": True, "persons": runtime.persons, "seed": runtime.config.seed})


@blueprint.post("/reset")
@answers_errors
def reset() -> Response:
    data = body()
    persons = int(data["persons"]) if data.get("persons") else None
    if persons is not None and persons < 1:
        raise ValueError("persons must be positive")
    seconds = current_runtime().reset(persons=persons)
    return jsonify({"ok": True, "seconds": round(seconds, 4), "persons": current_runtime().persons})


@blueprint.get("/tenants")
def tenants() -> Response:
    rows = current_runtime().crm.query("SELECT * FROM tenant ORDER BY ctx")
    return jsonify([dict(row) for row in rows])


@blueprint.get("/associates")
def associates() -> Response:
    rows = current_runtime().crm.query(
        "SELECT tenant, associate_id, person_id, login, first_name, last_name, email,"
        " is_administrator, is_active FROM associate ORDER BY tenant, associate_id"
    )
    return jsonify(
        [
            {
                **dict(row),
                "is_administrator": bool(row["is_administrator"]),
                "is_active": bool(row["is_active"]),
            }
            for row in rows
        ]
    )


# --- faults ----------------------------------------------------------------------------


@blueprint.get("/faults")
def faults() -> Response:
    return jsonify(current_runtime().faults.snapshot())


@blueprint.post("/faults")
@answers_errors
def set_faults() -> Response:
    return jsonify(current_runtime().faults.update(changes=body()))


@blueprint.delete("/faults")
def clear_faults() -> Response:
    current_runtime().faults.clear()
    return jsonify(current_runtime().faults.snapshot())


@blueprint.post("/tokens/expire")
def expire_tokens() -> Response:
    current_runtime().faults.expire_tokens_now()
    return jsonify({"ok": True})


@blueprint.post("/tenants/<ctx>/move")
@answers_errors
def move_tenant(ctx: str) -> Response:
    data = body()
    mutations.require_tenant(database=current_runtime().crm, tenant=ctx)
    host = current_runtime().faults.move_tenant(
        ctx=ctx, host=data.get("host"), request_host=request_hostname()
    )
    return jsonify({"ok": True, "tenant": ctx, "host": host})


@blueprint.post("/tenants/<ctx>/maintenance")
@answers_errors
def maintenance(ctx: str) -> Response:
    data = body()
    if ctx != "*":
        mutations.require_tenant(database=current_runtime().crm, tenant=ctx)
    current_runtime().faults.set_maintenance(ctx=ctx, on=bool(data.get("on", True)))
    return jsonify({"ok": True, "maintenance": current_runtime().faults.snapshot()["maintenance"]})


@blueprint.post("/consent/revoke")
@answers_errors
def consent_revoke() -> Response:
    data = body()
    tenant = tenant_of(data)
    associate_id = int(data["associate_id"])
    mutations.require_associate(
        database=current_runtime().crm, tenant=tenant, associate_id=associate_id
    )
    clients = revoke_consent(
        runtime=current_runtime(),
        tenant=tenant,
        associate_id=associate_id,
        client_id=data.get("client_id"),
    )
    return jsonify({"ok": True, "clients": clients})


@blueprint.get("/requests")
def request_counts() -> Response:
    return jsonify(current_runtime().requests.snapshot())


@blueprint.delete("/requests")
def clear_request_counts() -> Response:
    current_runtime().requests.clear()
    return jsonify(current_runtime().requests.snapshot())


# --- data changes ----------------------------------------------------------------------


@blueprint.post("/favourites")
@answers_errors
def favourite() -> Response:
    data = body()
    changed = mutations.favourite_set(
        database=current_runtime().crm,
        tenant=tenant_of(data),
        associate_id=int(data["associate_id"]),
        table_name=str(data["kind"]),
        record_id=int(data["record_id"]),
        favourite=bool(data.get("favourite", True)),
    )
    return jsonify({"ok": True, "changed": changed})


@blueprint.post("/selections/<int:selection_id>/members/<action>")
@answers_errors
def selection_members(selection_id: int, action: str) -> Response:
    data = body()
    change = {
        "add": mutations.selection_member_add,
        "remove": mutations.selection_member_remove,
    }.get(action)
    if change is None:
        raise ValueError("The action is add or remove")
    changed = change(
        database=current_runtime().crm,
        tenant=tenant_of(data),
        selection_id=selection_id,
        person_id=int(data["person_id"]) if data.get("person_id") else None,
        contact_id=int(data["contact_id"]) if data.get("contact_id") else None,
    )
    return jsonify({"ok": True, "changed": changed})


@blueprint.post("/selections/<int:selection_id>/type")
@answers_errors
def selection_type(selection_id: int) -> Response:
    data = body()
    mutations.selection_set_type(
        database=current_runtime().crm,
        tenant=tenant_of(data),
        selection_id=selection_id,
        selection_type=str(data["selection_type"]),
    )
    return jsonify({"ok": True})


@blueprint.delete("/selections/<int:selection_id>")
@answers_errors
def selection_delete(selection_id: int) -> Response:
    data = body()
    mutations.selection_delete(
        database=current_runtime().crm, tenant=tenant_of(data), selection_id=selection_id
    )
    return jsonify({"ok": True})


@blueprint.post("/persons/<int:person_id>/retire")
@answers_errors
def retire(person_id: int) -> Response:
    data = body()
    mutations.person_set_retired(
        database=current_runtime().crm,
        tenant=tenant_of(data),
        person_id=person_id,
        retired=bool(data.get("retired", True)),
    )
    return jsonify({"ok": True})


@blueprint.patch("/persons/<int:person_id>")
@answers_errors
def edit_person(person_id: int) -> Response:
    data = body()
    tenant = tenant_of(data)
    fields = {key: value for key, value in data.items() if key != "tenant"}
    changed = mutations.person_update(
        database=current_runtime().crm, tenant=tenant, person_id=person_id, fields=fields
    )
    return jsonify({"ok": True, "changed": changed})


@blueprint.post("/appointments")
@answers_errors
def create_appointment() -> Response:
    data = body()
    appointment_id = mutations.appointment_create(
        database=current_runtime().crm,
        tenant=tenant_of(data),
        associate_id=int(data["associate_id"]),
        person_id=int(data.get("person_id") or 0),
        start=str(data["start"]),
        title=str(data.get("title", "Sandbox appointment")),
        participant_associate_ids=[int(x) for x in data.get("participant_associate_ids", [])],
        participant_person_ids=[int(x) for x in data.get("participant_person_ids", [])],
    )
    return jsonify({"ok": True, "appointment_id": appointment_id})


@blueprint.delete("/appointments/<int:appointment_id>")
@answers_errors
def delete_appointment(appointment_id: int) -> Response:
    data = body()
    deleted = mutations.appointment_delete(
        database=current_runtime().crm, tenant=tenant_of(data), appointment_id=appointment_id
    )
    return jsonify({"ok": True, "deleted_rows": deleted})
