"""A small HTML admin page at ``/_sandbox/admin/`` over the same changes as the control API.

Pick a tenant and an associate, then star favourites, change selection members, retire
or edit a person, create appointments and revoke the associate's consent. Each form
posts, changes data through ``sandbox.mutations`` and redirects back with a message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from sandbox import mutations
from sandbox.control import loopback_only
from sandbox.mutations import MutationError
from sandbox.oidc import revoke_consent
from sandbox.runtime import current_runtime

blueprint = Blueprint("admin", __name__, url_prefix="/_sandbox/admin")
blueprint.before_request(loopback_only)


def chosen(*, source: Any) -> tuple[str, int]:
    runtime = current_runtime()
    tenants = [row["ctx"] for row in runtime.crm.query("SELECT ctx FROM tenant ORDER BY ctx")]
    tenant = source.get("tenant") or tenants[0]
    if tenant not in tenants:
        tenant = tenants[0]
    try:
        associate_id = int(source.get("associate") or 1)
    except ValueError:
        associate_id = 1
    return tenant, associate_id


@blueprint.get("/")
def page() -> str:
    runtime = current_runtime()
    database = runtime.crm
    tenant, associate_id = chosen(source=request.args)
    favourite_companies = database.query(
        "SELECT c.contact_id, c.name, c.department,"
        " (SELECT COUNT(*) FROM person p WHERE p.tenant = c.tenant AND p.contact_id = c.contact_id"
        "  AND p.retired = 1) AS retired_count"
        " FROM favourite f JOIN contact c ON c.tenant = f.tenant AND c.contact_id = f.record_id"
        " WHERE f.tenant = ? AND f.associate_id = ? AND f.table_name = 'contact' ORDER BY c.name",
        (tenant, associate_id),
    )
    favourite_persons = database.query(
        "SELECT p.person_id, p.first_name, p.last_name, p.retired, c.name AS company"
        " FROM favourite f JOIN person p ON p.tenant = f.tenant AND p.person_id = f.record_id"
        " JOIN contact c ON c.tenant = p.tenant AND c.contact_id = p.contact_id"
        " WHERE f.tenant = ? AND f.associate_id = ? AND f.table_name = 'person'"
        " ORDER BY p.last_name",
        (tenant, associate_id),
    )
    selections = database.query(
        "SELECT s.*, (SELECT COUNT(*) FROM selection_member m WHERE m.tenant = s.tenant"
        " AND m.selection_id = s.selection_id) AS members FROM selection s WHERE s.tenant = ?"
        " ORDER BY s.selection_id",
        (tenant,),
    )
    appointments = database.query(
        "SELECT a.*, p.first_name, p.last_name FROM appointment a LEFT JOIN person p"
        " ON p.tenant = a.tenant AND p.person_id = a.person_id WHERE a.tenant = ?"
        " AND a.associate_id = ? ORDER BY a.start_date DESC LIMIT 15",
        (tenant, associate_id),
    )
    return render_template(
        "admin.html",
        tenants=database.query("SELECT * FROM tenant ORDER BY ctx"),
        associates=database.query(
            "SELECT * FROM associate WHERE tenant = ? ORDER BY associate_id", (tenant,)
        ),
        tenant=tenant,
        associate_id=associate_id,
        favourite_companies=favourite_companies,
        favourite_persons=favourite_persons,
        selections=selections,
        appointments=appointments,
        editable_fields=list(mutations.EDITABLE_PERSON_FIELDS),
        message=request.args.get("message", ""),
        error=request.args.get("error", ""),
    )


def back(*, tenant: str, associate_id: int, message: str = "", error: str = "") -> WerkzeugResponse:
    values: dict[str, str] = {"tenant": tenant, "associate": str(associate_id)}
    if message:
        values["message"] = message
    if error:
        values["error"] = error
    return redirect(f"{url_for('admin.page')}?{urlencode(values)}")


def number(name: str) -> int:
    text = request.form.get(name, "").strip()
    if not text:
        raise MutationError(f"Fill in {name.replace('_', ' ')}")
    try:
        return int(text)
    except ValueError:
        raise MutationError(f"{name.replace('_', ' ').capitalize()} must be a number") from None


def numbers(name: str) -> list[int]:
    text = request.form.get(name, "").replace(",", " ")
    try:
        return [int(part) for part in text.split()]
    except ValueError:
        raise MutationError(f"{name.replace('_', ' ').capitalize()} must be numbers") from None


@blueprint.post("/<action>")
def act(action: str) -> WerkzeugResponse:
    tenant, associate_id = chosen(source=request.form)
    database = current_runtime().crm
    try:
        if action == "favourite":
            mutations.favourite_set(
                database=database,
                tenant=tenant,
                associate_id=associate_id,
                table_name=request.form.get("kind", ""),
                record_id=number("record_id"),
                favourite=request.form.get("favourite") == "1",
            )
            message = "Favourites updated."
        elif action == "member":
            change = (
                mutations.selection_member_add
                if request.form.get("change") == "add"
                else mutations.selection_member_remove
            )
            changed = change(
                database=database,
                tenant=tenant,
                selection_id=number("selection_id"),
                person_id=number("person_id"),
                changed_by=associate_id,
            )
            message = "Selection members updated." if changed else "Nothing to change."
        elif action == "retire":
            mutations.person_set_retired(
                database=database,
                tenant=tenant,
                person_id=number("person_id"),
                retired=request.form.get("retired") == "1",
            )
            message = "Person updated."
        elif action == "edit":
            field = request.form.get("field", "")
            changed_fields = mutations.person_update(
                database=database,
                tenant=tenant,
                person_id=number("person_id"),
                fields={field: request.form.get("value", "")},
            )
            message = f"Changed {', '.join(changed_fields)}."
        elif action == "appointment":
            appointment_id = mutations.appointment_create(
                database=database,
                tenant=tenant,
                associate_id=associate_id,
                person_id=number("person_id"),
                start=request.form.get("start", ""),
                title=request.form.get("title", ""),
                participant_person_ids=numbers("participant_person_ids"),
            )
            message = f"Created appointment {appointment_id}."
        elif action == "revoke-consent":
            mutations.require_associate(database=database, tenant=tenant, associate_id=associate_id)
            clients = revoke_consent(
                runtime=current_runtime(),
                tenant=tenant,
                associate_id=associate_id,
                client_id=request.form.get("client_id") or None,
            )
            message = f"Consent revoked for {', '.join(clients)}."
        else:
            raise MutationError(f"Unknown action {action!r}")
    except MutationError as problem:
        return back(tenant=tenant, associate_id=associate_id, error=str(problem))
    return back(tenant=tenant, associate_id=associate_id, message=message)
