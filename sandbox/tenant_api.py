"""The tenant REST API: ``/{ctx}/api/v1/...`` with a Bearer token.

Every request passes, in order: the request counter, added latency, maintenance (503),
the tenant's host (421 "Wrong subdomain used to access tenant"), injected failures
(429/503 with ``Retry-After``, 500), the token (401), the token's tenant (403); then the
route. Paths match case-insensitively, as SuperOffice's do.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.http import parse_date

from sandbox import entities
from sandbox.archive_providers import (
    ALL_USERS,
    FIND_APPOINTMENT,
    FIND_SELECTION,
    PARTICIPANTS,
    PERSON_ARCHIVE,
    PROVIDERS,
    STATIC_SELECTION_MEMBERS,
    ArchiveProvider,
)
from sandbox.archives import ArchiveQuery, ArchiveScope, provider_list, run_archive
from sandbox.clock import parse_so_datetime
from sandbox.filters import FilterError, parse_filter
from sandbox.mutations import MutationError, selection_member_add, selection_member_remove
from sandbox.oidc import TokenHolder, access_token_holder
from sandbox.runtime import SandboxRuntime, current_runtime
from sandbox.tenants import request_hostname, tenant_base_url

blueprint = Blueprint("tenant_api", __name__)


def json_response(*, body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json"
    )


def error_response(*, status: int, error_type: str, message: str) -> Response:
    return json_response(
        body=entities.error_body(error_type=error_type, message=message), status=status
    )


def not_found(*, message: str) -> Response:
    return error_response(status=404, error_type="SoNotFoundException", message=message)


@dataclass(frozen=True)
class Call:
    """One authenticated request: who, which tenant, the path's numeric ids."""

    runtime: SandboxRuntime
    ctx: str
    holder: TokenHolder
    ids: tuple[int, ...]
    api_base: str
    page_url: str


Handler = Callable[[Call], Response]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    compiled = re.compile("^" + pattern.replace("{id}", r"(\d+)") + "$", re.IGNORECASE)

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, compiled, handler))
        return handler

    return register


@blueprint.route("/<ctx>/api/v1/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def tenant_api(ctx: str, rest: str) -> Response:
    runtime = current_runtime()
    runtime.requests.count(kind="tenant_api", ctx=ctx)
    if runtime.crm.query_one("SELECT 1 FROM tenant WHERE ctx = ?", (ctx,)) is None:
        return not_found(message=f"Unknown tenant {ctx}")
    faults = runtime.faults
    # The request's injected failure is chosen as it arrives, before any added latency:
    # a slow request that its client gave up on must not take a failure queued after it.
    failure = faults.next_failure()
    latency = faults.latency_seconds()
    if latency:
        time.sleep(latency)
    if faults.in_maintenance(ctx=ctx):
        response = error_response(
            status=503,
            error_type="SoMaintenanceException",
            message=f"Tenant {ctx} is offline for maintenance",
        )
        response.headers["Retry-After"] = str(faults.snapshot()["retry_after_seconds"])
        return response
    home = faults.tenant_host(ctx=ctx)
    if home is not None and home != request_hostname():
        return error_response(
            status=421,
            error_type="MisdirectedRequest",
            message="Wrong subdomain used to access tenant",
        )
    if failure is not None:
        response = error_response(
            status=failure.status,
            error_type={429: "TooManyRequests", 503: "ServiceUnavailable"}.get(
                failure.status, "SoServerException"
            ),
            message=f"Injected failure {failure.status}",
        )
        if failure.retry_after_seconds is not None:
            response.headers["Retry-After"] = str(failure.retry_after_seconds)
        return response
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    holder = (
        access_token_holder(runtime=runtime, token=token.strip())
        if scheme.lower() == "bearer"
        else None
    )
    if holder is None:
        response = error_response(
            status=401,
            error_type="SoAuthenticationException",
            message="Missing, invalid or expired access token",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="SuperOffice"'
        return response
    if holder.tenant != ctx:
        return error_response(
            status=403,
            error_type="SoAccessDeniedException",
            message=f"The access token is for {holder.tenant}, not {ctx}",
        )
    api_base = f"{tenant_base_url(ctx=ctx)}/api/"
    path = rest.strip("/")
    for method, pattern, handler in ROUTES:
        match = pattern.match(path)
        if match and method == request.method:
            call = Call(
                runtime=runtime,
                ctx=ctx,
                holder=holder,
                ids=tuple(int(group) for group in match.groups()),
                api_base=api_base,
                page_url=f"{api_base}v1/{path}",
            )
            try:
                return handler(call)
            except FilterError as error:
                return error_response(
                    status=400, error_type="SoArgumentException", message=str(error)
                )
            except MutationError as error:
                return error_response(
                    status=400, error_type="SoValidationException", message=str(error)
                )
    return not_found(message=f"No such endpoint: {request.method} api/v1/{path}")


def archive_params() -> dict[str, str]:
    params = dict(request.args.items())
    if request.method == "POST":
        params.update(request.form.items())
    return params


def answer_archive(
    *,
    call: Call,
    provider: ArchiveProvider,
    extra_where: str = "",
    extra_params: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> Response:
    body = run_archive(
        database=call.runtime.crm,
        provider=provider,
        query=ArchiveQuery.from_params(params=archive_params() if params is None else params),
        scope=ArchiveScope(
            tenant=call.ctx,
            associate_id=call.holder.associate_id,
            extra_where=extra_where,
            extra_params=extra_params or {},
        ),
        page_url=call.page_url,
    )
    return json_response(body=body)


# --- user ------------------------------------------------------------------------------


@route("GET", "User/currentPrincipal")
def current_principal(call: Call) -> Response:
    body = entities.principal_carrier(
        database=call.runtime.crm, tenant=call.ctx, associate_id=call.holder.associate_id
    )
    return json_response(body=body) if body else not_found(message="User not found")


@route("GET", "User/currentAssociate")
def current_associate(call: Call) -> Response:
    body = entities.associate_carrier(
        database=call.runtime.crm, tenant=call.ctx, associate_id=call.holder.associate_id
    )
    return json_response(body=body) if body else not_found(message="User not found")


@route("GET", "User")
def all_users(call: Call) -> Response:
    return answer_archive(call=call, provider=ALL_USERS)


# --- person and contact ----------------------------------------------------------------


def http_date(*, stored: str) -> str:
    return format_datetime(parse_so_datetime(text=stored).replace(tzinfo=UTC), usegmt=True)


def not_modified_since(*, stored: str) -> bool:
    header = request.headers.get("If-Modified-Since")
    since = parse_date(header) if header else None
    if since is None:
        return False
    return parse_so_datetime(text=stored).replace(tzinfo=UTC) <= since.astimezone(UTC)


def entity_response(*, body: dict[str, Any], updated: str) -> Response:
    if not_modified_since(stored=updated):
        response = Response(status=304)
    else:
        response = json_response(body=body)
    response.headers["Last-Modified"] = http_date(stored=updated)
    return response


@route("GET", "Person")
def person_archive(call: Call) -> Response:
    return answer_archive(call=call, provider=PERSON_ARCHIVE)


@route("GET", "Person/{id}")
def person(call: Call) -> Response:
    row = entities.load_person(database=call.runtime.crm, tenant=call.ctx, person_id=call.ids[0])
    if row is None:
        return not_found(message=f"Person id {call.ids[0]} not found")
    body = entities.person_entity(
        database=call.runtime.crm, tenant=call.ctx, person=row, api_base=call.api_base
    )
    return entity_response(body=body, updated=row["updated"])


@route("GET", "Person/{id}/Simple")
def person_simple(call: Call) -> Response:
    row = entities.load_person(database=call.runtime.crm, tenant=call.ctx, person_id=call.ids[0])
    if row is None:
        return not_found(message=f"Person id {call.ids[0]} not found")
    contact = entities.load_contact(
        database=call.runtime.crm, tenant=call.ctx, contact_id=row["contact_id"]
    )
    return json_response(body=entities.flat_person(person=row, contact=contact))


@route("GET", "Contact/{id}")
def contact(call: Call) -> Response:
    row = entities.load_contact(database=call.runtime.crm, tenant=call.ctx, contact_id=call.ids[0])
    if row is None:
        return not_found(message=f"Contact id {call.ids[0]} not found")
    body = entities.contact_entity(
        database=call.runtime.crm, tenant=call.ctx, contact=row, api_base=call.api_base
    )
    return entity_response(body=body, updated=row["updated"])


@route("GET", "Contact/{id}/Persons")
def contact_persons(call: Call) -> Response:
    contact_id = call.ids[0]
    if (
        entities.load_contact(database=call.runtime.crm, tenant=call.ctx, contact_id=contact_id)
        is None
    ):
        return not_found(message=f"Contact id {contact_id} not found")
    return answer_archive(
        call=call,
        provider=PERSON_ARCHIVE,
        extra_where="p.contact_id = :contact_id",
        extra_params={"contact_id": contact_id},
    )


# --- selections ------------------------------------------------------------------------


@route("GET", "Selection")
def find_selection(call: Call) -> Response:
    return answer_archive(call=call, provider=FIND_SELECTION)


def load_selection(*, call: Call) -> Any:
    return call.runtime.crm.query_one(
        "SELECT * FROM selection WHERE tenant = ? AND selection_id = ?", (call.ctx, call.ids[0])
    )


@route("GET", "Selection/{id}")
def selection(call: Call) -> Response:
    row = load_selection(call=call)
    if row is None:
        return not_found(message=f"Selection id {call.ids[0]} not found")
    body = entities.selection_entity(
        database=call.runtime.crm, tenant=call.ctx, selection=row, api_base=call.api_base
    )
    return entity_response(body=body, updated=row["updated"])


def selection_person_ids(*, call: Call, selection_id: int, depth: int = 0) -> set[int]:
    """The persons a person/company selection names now, whatever its kind."""
    database = call.runtime.crm
    row = database.query_one(
        "SELECT * FROM selection WHERE tenant = ? AND selection_id = ?", (call.ctx, selection_id)
    )
    if row is None or depth > 4 or row["target_table_number"] not in (5, 6):
        return set()
    if row["selection_type"] == "Static":
        rows = database.query(
            "SELECT person_id FROM selection_member WHERE tenant = ? AND selection_id = ?"
            " AND person_id != 0",
            (call.ctx, selection_id),
        )
        return {int(item[0]) for item in rows}
    if row["selection_type"] == "Dynamic":
        condition = parse_filter(
            text=row["criteria"],
            columns=PERSON_ARCHIVE.columns,
            current_associate=call.holder.associate_id,
        )
        rows = database.query(
            f"SELECT p.person_id FROM {PERSON_ARCHIVE.from_sql} WHERE p.tenant = :tenant"  # noqa: S608 - SQL built from fixed provider text
            f" AND ({condition.sql})",
            {**condition.params, "tenant": call.ctx},
        )
        return {int(item[0]) for item in rows}
    left = selection_person_ids(call=call, selection_id=row["left_selection_id"], depth=depth + 1)
    right = selection_person_ids(call=call, selection_id=row["right_selection_id"], depth=depth + 1)
    combine = {
        "Union": left | right,
        "Intersect": left & right,
        "XOR": left ^ right,
        "SubtractRightFromLeft": left - right,
        "SubtractLeftFromRight": right - left,
    }
    return combine.get(row["union_type"], left | right)


@route("GET", "Selection/{id}/Members")
def selection_members(call: Call) -> Response:
    """Members in the shape of the selection's target: persons/companies, or sales."""
    row = load_selection(call=call)
    if row is None:
        return not_found(message=f"Selection id {call.ids[0]} not found")
    params = {
        k: v
        for k, v in archive_params().items()
        if k.lower() in {"$select", "$mode", "$format", "$output", "$jsonsafe"}
    }
    if row["target_table_number"] not in (5, 6):
        return json_response(body=sale_members(call=call, selection=row))
    if row["selection_type"] == "Static":
        return answer_archive(
            call=call,
            provider=STATIC_SELECTION_MEMBERS,
            extra_where="m.selection_id = :selection_id",
            extra_params={"selection_id": row["selection_id"]},
            params=params,
        )
    person_ids = sorted(selection_person_ids(call=call, selection_id=row["selection_id"]))
    return answer_archive(
        call=call,
        provider=PERSON_ARCHIVE,
        extra_where="p.person_id IN (SELECT value FROM json_each(:person_ids))",
        extra_params={"person_ids": json.dumps(person_ids)},
        params=params,
    )


def sale_members(*, call: Call, selection: Any) -> dict[str, Any]:
    rows = (
        call.runtime.crm.query(
            "SELECT * FROM selection_member WHERE tenant = ? AND selection_id = ?"
            " ORDER BY target_record_id",
            (call.ctx, selection["selection_id"]),
        )
        if selection["selection_type"] == "Static"
        else []
    )
    values = [
        {
            "PrimaryKey": str(item["target_record_id"]),
            "EntityName": selection["target_table_name"],
            "saleId": item["target_record_id"],
            "heading": item["label"],
            "contactId": item["contact_id"],
        }
        for item in rows
    ]
    return {"odata.metadata": f"{call.page_url}/$metadata", "odata.nextLink": None, "value": values}


def contact_person_ids() -> list[tuple[int, int]]:
    body = request.get_json(silent=True)
    if not isinstance(body, list):
        raise MutationError("The body must be a JSON list of {ContactId, PersonId}")
    pairs = []
    for item in body:
        if not isinstance(item, dict):
            raise MutationError("Each member must be an object with ContactId and PersonId")
        pairs.append((int(item.get("ContactId") or 0), int(item.get("PersonId") or 0)))
    return pairs


def change_members(call: Call, change: Callable[..., object]) -> Response:
    for contact_id, person_id in contact_person_ids():
        change(
            database=call.runtime.crm,
            tenant=call.ctx,
            selection_id=call.ids[0],
            person_id=person_id or None,
            contact_id=contact_id or None,
            changed_by=call.holder.associate_id,
        )
    return Response(status=204)


@route("POST", "Selection/{id}/Members/AddPerson")
def add_person_members(call: Call) -> Response:
    return change_members(call, selection_member_add)


@route("POST", "Selection/{id}/Members/RemovePerson")
def remove_person_members(call: Call) -> Response:
    return change_members(call, selection_member_remove)


# --- appointments ----------------------------------------------------------------------


@route("GET", "Appointment")
def find_appointment(call: Call) -> Response:
    return answer_archive(call=call, provider=FIND_APPOINTMENT)


@route("GET", "Appointment/{id}")
def appointment(call: Call) -> Response:
    row = call.runtime.crm.query_one(
        "SELECT * FROM appointment WHERE tenant = ? AND appointment_id = ?",
        (call.ctx, call.ids[0]),
    )
    if row is None:
        return not_found(message=f"Appointment id {call.ids[0]} not found")
    body = entities.appointment_entity(
        database=call.runtime.crm, tenant=call.ctx, appointment=row, api_base=call.api_base
    )
    return entity_response(body=body, updated=row["updated"])


@route("GET", "Appointment/{id}/Participants")
def appointment_participants(call: Call) -> Response:
    exists = call.runtime.crm.query_one(
        "SELECT 1 FROM appointment WHERE tenant = ? AND appointment_id = ?",
        (call.ctx, call.ids[0]),
    )
    if exists is None:
        return not_found(message=f"Appointment id {call.ids[0]} not found")
    restriction = PARTICIPANTS.columns["appointmentrestrictionid"].restriction_sql or ""
    return answer_archive(
        call=call,
        provider=PARTICIPANTS,
        extra_where=restriction.replace("{value}", ":appointment_id"),
        extra_params={"appointment_id": call.ids[0]},
    )


# --- archives and agents ---------------------------------------------------------------


@route("GET", "Archive")
def archive_list(call: Call) -> Response:
    return json_response(body=provider_list())


def archive(call: Call) -> Response:
    name = request.path.rstrip("/").rsplit("/", 1)[-1]
    provider = PROVIDERS.get(name.lower())
    if provider is None:
        return not_found(message=f"Unknown archive provider {name!r}")
    return answer_archive(call=call, provider=provider)


ROUTES.append(("GET", re.compile(r"^Archive/[\w-]+$", re.IGNORECASE), archive))
ROUTES.append(("POST", re.compile(r"^Archive/[\w-]+$", re.IGNORECASE), archive))


@route("POST", "Agents/Favourite/GetFavourites")
def get_favourites(call: Call) -> Response:
    body = request.get_json(silent=True) or {}
    table_name = str(body.get("TableName", "")).lower()
    associate_id = int(body.get("AssociateId") or call.holder.associate_id)
    rows = call.runtime.crm.query(
        "SELECT * FROM favourite WHERE tenant = ? AND associate_id = ? AND table_name = ?"
        " ORDER BY rank, record_id",
        (call.ctx, associate_id, table_name),
    )
    return json_response(
        body=[
            {
                "TableName": row["table_name"],
                "RecordId": row["record_id"],
                "AssociateId": row["associate_id"],
                "ExtraInfo": "",
                "Rank": row["rank"],
                "TableRight": None,
                "FieldProperties": {},
            }
            for row in rows
        ]
    )
