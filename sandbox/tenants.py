"""Where a tenant lives and whether it runs: ``GET /api/state/{ctx}``.

A tenant normally answers on whatever host the caller used. The ``move`` fault pins it
to another host (``127.0.0.1`` ⇄ ``localhost``); requests on the old host then get 421,
and the state API reports the new ``Endpoint``, as SuperOffice Online does when it moves
a tenant between servers.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, request

from sandbox.clock import format_so_datetime, utc_now
from sandbox.entities import error_body
from sandbox.runtime import current_runtime

blueprint = Blueprint("tenants", __name__)

STATE_VALID_MINUTES = 60


def request_hostname() -> str:
    return urlsplit(request.host_url).hostname or "127.0.0.1"


def tenant_base_url(*, ctx: str) -> str:
    """``{scheme}://{host}:{port}/{ctx}`` with the host the tenant lives on now."""
    parts = urlsplit(request.host_url)
    host = current_runtime().faults.tenant_host(ctx=ctx) or parts.hostname or "127.0.0.1"
    shown_host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{shown_host}{port}/{ctx}"


@blueprint.get("/api/state/<ctx>")
def tenant_state(ctx: str) -> Response:
    runtime = current_runtime()
    runtime.requests.count(kind="state")
    tenant = runtime.crm.query_one("SELECT * FROM tenant WHERE ctx = ?", (ctx,))
    if tenant is None:
        response = jsonify(
            error_body(error_type="SoTenantNotFoundException", message=f"Unknown tenant {ctx}")
        )
        response.status_code = 404
        return response
    maintenance = runtime.faults.in_maintenance(ctx=ctx)
    endpoint = tenant_base_url(ctx=ctx)
    return jsonify(
        {
            "ContextIdentifier": ctx,
            "Endpoint": endpoint,
            "State": "OfflineMaintenance" if maintenance else "Running",
            "IsRunning": not maintenance,
            "ValidUntil": format_so_datetime(
                moment=utc_now() + timedelta(minutes=STATE_VALID_MINUTES)
            ),
            "Api": f"{endpoint}/api",
            "Version": tenant["version"],
        }
    )
