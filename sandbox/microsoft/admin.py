"""The HTML admin page at ``/_sandbox/admin/``: directories, users and consent, each
mailbox's contacts (ours and foreign), throttling, stats and faults, for a demo viewer.
Its forms change state through the same functions as the control API."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from sandbox.control import loopback_only
from sandbox.microsoft import directory
from sandbox.microsoft.control import contacts_in, stats_json
from sandbox.microsoft.runtime import current_runtime

blueprint = Blueprint("microsoft_admin", __name__, url_prefix="/_sandbox/admin")
blueprint.before_request(loopback_only)


@blueprint.get("/")
def page() -> str:
    runtime = current_runtime()
    directories = directory.directories_json(
        database=runtime.database, client_id=runtime.config.client_id
    )
    mailboxes = []
    for entry in directories:
        for user in entry["users"]:
            row = directory.find_user(database=runtime.database, key=user["id"])
            assert row is not None
            mailboxes.append({"user": user, "contacts": contacts_in(runtime=runtime, user=row)})
    return render_template(
        "admin.html",
        directories=directories,
        mailboxes=mailboxes,
        limits=runtime.throttle.settings(),
        stats=stats_json(runtime=runtime),
        faults=runtime.faults.snapshot(),
        message=request.args.get("message"),
        addresses=runtime.addresses,
    )


@blueprint.post("/consent")
def consent() -> WerkzeugResponse:
    runtime = current_runtime()
    granted = request.form.get("granted") == "1"
    directory.set_consent(
        database=runtime.database, directory_id=request.form["directory"],
        client_id=runtime.config.client_id, granted=granted,
    )  # fmt: skip
    message = "Consent granted" if granted else "Consent revoked"
    return redirect(url_for("microsoft_admin.page", message=message))


@blueprint.post("/revoke-grant")
def revoke_grant() -> WerkzeugResponse:
    directory.revoke_grants(database=current_runtime().database, user_id=request.form["user"])
    return redirect(url_for("microsoft_admin.page", message="The user's grant was revoked"))


@blueprint.post("/expire-delta")
def expire_delta() -> WerkzeugResponse:
    current_runtime().expire_delta_tokens()
    return redirect(url_for("microsoft_admin.page", message="Every delta token expired"))


@blueprint.post("/clear-faults")
def clear_faults() -> WerkzeugResponse:
    current_runtime().faults.clear()
    return redirect(url_for("microsoft_admin.page", message="Faults cleared"))
