"""The identity platform (v2.0): discovery, keys, admin consent, authorize and token.

Browser pages (authorize, admin consent) list the directory's people with one button each,
so a demo or a Playwright test signs in with one click. Errors of the token endpoint are
JSON with ``error``, ``error_description`` (starting with an AADSTS code) and ``error_codes``.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request

from sandbox.microsoft import directory, grants, tokens
from sandbox.microsoft.config import APP_PERMISSIONS
from sandbox.microsoft.errors import IdentityError
from sandbox.microsoft.runtime import MicrosoftRuntime, current_runtime

CODE_LIFETIME = 600
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
AUTHORIZE_PARAMS = (
    "client_id", "response_type", "redirect_uri", "scope", "state", "response_mode",
    "code_challenge", "code_challenge_method", "nonce", "login_hint", "prompt", "client_info",
)  # fmt: skip
CONSENT_PARAMS = ("client_id", "scope", "redirect_uri", "state")

# The app's own templates come first; form_post.html is the SuperOffice sandbox's own page.
blueprint = Blueprint("identity", __name__, template_folder="../templates")


@blueprint.errorhandler(IdentityError)
def identity_error(error: IdentityError) -> tuple[Response, int]:
    now = datetime.now(UTC)
    trace = str(uuid.uuid4())
    return jsonify(
        {
            "error": error.error,
            "error_description": f"AADSTS{error.code}: {error.description}\r\n"
            f"Trace ID: {trace}\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [error.code],
            "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        }
    ), error.status


@blueprint.before_request
def injected_faults() -> Response | None:
    runtime = current_runtime()
    target = request.full_path.rstrip("?")
    latency = runtime.faults.take(kind="latency", method=request.method, target=target)
    if latency is not None:
        time.sleep(latency.latency_ms / 1000)
    rule = runtime.faults.take(kind="status", method=request.method, target=target)
    if rule is None:
        g.lose_response = runtime.faults.take(
            kind="lose_response", method=request.method, target=target
        )
        return None
    response = jsonify({"error": "temporarily_unavailable", "error_description": "Injected fault"})
    response.status_code = rule.status
    if rule.retry_after is not None:
        response.headers["Retry-After"] = str(rule.retry_after)
    return response


@blueprint.after_request
def lose_response(response: Response) -> Response:
    if getattr(g, "lose_response", None) is None:
        return response
    lost = jsonify({"error": "gateway_timeout", "error_description": "The answer was lost"})
    lost.status_code = 504
    return lost


def hostname() -> str:
    return request.host.rsplit(":", 1)[0] if not request.host.startswith("[") else "127.0.0.1"


def known_tenant(*, tenant: str) -> bool:
    runtime = current_runtime()
    if tenant.lower() in directory.MULTI_TENANT_NAMES:
        return True
    return directory.find_directory(database=runtime.database, tenant=tenant) is not None


def require_tenant(*, tenant: str) -> None:
    if not known_tenant(tenant=tenant):
        raise IdentityError(
            error="invalid_tenant", code=90002,
            description=f"Tenant '{tenant}' not found. Check the tenant id or domain name.",
        )  # fmt: skip


@blueprint.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant: str) -> Response:
    require_tenant(tenant=tenant)
    runtime = current_runtime()
    found = directory.find_directory(database=runtime.database, tenant=tenant)
    tenant_id = found["id"] if found is not None else "{tenantid}"
    http, https = runtime.addresses.http(host=hostname()), runtime.addresses.https(host=hostname())
    return jsonify(
        {
            "issuer": tokens.issuer(runtime=runtime, tenant_id=tenant_id),
            "authorization_endpoint": f"{http}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{https}/{tenant}/oauth2/v2.0/token",
            "jwks_uri": f"{https}/{tenant}/discovery/v2.0/keys",
            "end_session_endpoint": f"{http}/{tenant}/oauth2/v2.0/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "name",
                "tid",
                "oid",
                "preferred_username",
                "email",
            ],
            "tenant_region_scope": "EU",
        }
    )


@blueprint.get("/<tenant>/discovery/v2.0/keys")
def keys(tenant: str) -> Response:
    require_tenant(tenant=tenant)
    key = current_runtime().signing_key
    return jsonify(tokens.jwks(public_key=key.public_key, kid=key.kid))


# --- browser pages ----------------------------------------------------------------------


def redirect_uri_allowed(*, uri: str) -> bool:
    """Any http(s) address on the loopback interface counts as registered."""
    parts = urlsplit(uri)
    return parts.scheme in {"http", "https"} and parts.hostname in LOOPBACK_HOSTS


def page_problem(*, tenant: str, params: dict[str, str]) -> str | None:
    runtime = current_runtime()
    if not known_tenant(tenant=tenant):
        return f"AADSTS90002: Tenant '{tenant}' not found."
    if params.get("client_id") != runtime.config.client_id:
        return (
            f"AADSTS700016: Application with identifier '{params.get('client_id')}' was not"
            f" found in the directory '{tenant}'."
        )
    if not redirect_uri_allowed(uri=params.get("redirect_uri", "")):
        return (
            f"AADSTS50011: The redirect URI '{params.get('redirect_uri')}' does not match the"
            " redirect URIs configured for the application."
        )
    return None


def back_to_client(*, params: dict[str, str], values: dict[str, str]) -> Any:
    """Send the browser back to the app: a query-string redirect, or an auto-posted form."""
    if params.get("state"):
        values = {**values, "state": params["state"]}
    uri = params["redirect_uri"]
    if params.get("response_mode") == "form_post":
        return render_template("form_post.html", action=uri, values=values)
    separator = "&" if "?" in uri else "?"
    return redirect(f"{uri}{separator}{urlencode(values)}", code=302)


def source_params(*, names: tuple[str, ...]) -> dict[str, str]:
    source = request.form if request.method == "POST" else request.args
    return {name: source.get(name, "") for name in names if source.get(name)}


def page_params(*, tenant: str, names: tuple[str, ...]) -> tuple[dict[str, str], Any]:
    """The page's parameters, and the error page to answer instead when they are wrong."""
    params = source_params(names=names)
    problem = page_problem(tenant=tenant, params=params)
    return params, (render_template("error.html", message=problem), 400) if problem else None


def pick_page(*, runtime: MicrosoftRuntime, people: list[sqlite3.Row], **texts: Any) -> str:
    """The page to pick one of `people` on, each beside their directory's name."""
    directories = {
        row["id"]: row["name"] for row in runtime.database.query("SELECT * FROM directory")
    }
    return render_template(
        "pick.html",
        people=[(row, directories.get(row["directory_id"], "")) for row in people],
        **texts,
    )


@blueprint.route("/<tenant>/v2.0/adminconsent", methods=["GET", "POST"])
@blueprint.route("/<tenant>/adminconsent", methods=["GET", "POST"])
def admin_consent(tenant: str) -> Any:
    runtime = current_runtime()
    params, refusal = page_params(tenant=tenant, names=CONSENT_PARAMS)
    if refusal:
        return refusal
    admins = directory.users_of(database=runtime.database, tenant=tenant, admins_only=True)
    if request.method == "POST":
        if "cancel" in request.form:
            return back_to_client(
                params=params,
                # v2-admin-consent.md's error response: consent_required, AADSTS65004.
                values={"admin_consent": "True", "error": "consent_required",
                        "error_description": "AADSTS65004: The resource owner or"
                        " authorization server denied the request."},
            )  # fmt: skip
        chosen = next((row for row in admins if row["id"] == request.form.get("user")), None)
        if chosen is None:
            return render_template("error.html", message="Pick an administrator"), 400
        directory.set_consent(
            database=runtime.database, directory_id=chosen["directory_id"],
            client_id=runtime.config.client_id, granted=True,
        )  # fmt: skip
        return back_to_client(
            params=params,
            values={"admin_consent": "True", "tenant": chosen["directory_id"],
                    "scope": params.get("scope", "")},
        )  # fmt: skip
    return pick_page(
        runtime=runtime,
        people=admins,
        title="Permissions requested",
        intro="The app asks for these permissions in your organization:",
        permissions=list(APP_PERMISSIONS),
        verb="Accept as",
        params=params,
        empty="No administrator of this directory can consent.",
    )


@blueprint.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
def authorize(tenant: str) -> Any:
    runtime = current_runtime()
    params, refusal = page_params(tenant=tenant, names=AUTHORIZE_PARAMS)
    if refusal:
        return refusal
    if params.get("response_type") != "code":
        return back_to_client(
            params=params,
            values={"error": "unsupported_response_type",
                    "error_description": "AADSTS700054: Only response_type=code is supported."},
        )  # fmt: skip
    if params.get("code_challenge_method", "S256") not in {"S256", "plain"}:
        return back_to_client(
            params=params,
            values={"error": "invalid_request",
                    "error_description": "AADSTS501491: Invalid code_challenge_method."},
        )  # fmt: skip
    people = directory.users_of(database=runtime.database, tenant=tenant)
    hint = params.get("login_hint", "").lower()
    if hint and any(row["mail"].lower() == hint for row in people):
        people = [row for row in people if row["mail"].lower() == hint]
    if request.method == "POST":
        if "cancel" in request.form:
            return back_to_client(
                params=params,
                values={"error": "access_denied",
                        "error_description": "AADSTS65004: The user declined to consent."},
            )  # fmt: skip
        chosen = next((row for row in people if row["id"] == request.form.get("user")), None)
        if chosen is None:
            return render_template("error.html", message="Pick an account"), 400
        return issue_code(runtime=runtime, params=params, user_id=chosen["id"])
    return pick_page(
        runtime=runtime,
        people=people,
        title="Pick an account",
        intro="Signing in also grants the app what it asks for:",
        permissions=params.get("scope", "").split(),
        verb="Sign in as",
        params=params,
        empty="This directory has no users.",
    )


def issue_code(*, runtime: MicrosoftRuntime, params: dict[str, str], user_id: str) -> Any:
    """Consent is implied by the sign-in: record the delegated grant, then hand out a code."""
    scope = params.get("scope", "")
    directory.grant_user(
        database=runtime.database, user_id=user_id, client_id=params["client_id"], scope=scope
    )
    code = "1.A" + secrets.token_urlsafe(48)
    runtime.database.execute(
        "INSERT INTO auth_code (code, client_id, redirect_uri, user_id, scope, nonce, challenge,"
        " challenge_method, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            code, params["client_id"], params["redirect_uri"], user_id, scope,
            params.get("nonce"), params.get("code_challenge"),
            params.get("code_challenge_method") or "plain", time.time() + CODE_LIFETIME,
        ),
    )  # fmt: skip
    return back_to_client(params=params, values={"code": code})


# --- token endpoint ---------------------------------------------------------------------


@blueprint.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str) -> Response:
    require_tenant(tenant=tenant)
    params = {key: value for key, value in request.form.items()}
    client_id = grants.authenticate_client(params=params, tenant=tenant)
    grant_type = params.get("grant_type", "")
    if grant_type == "client_credentials":
        answer = grants.client_credentials(tenant=tenant, client_id=client_id, params=params)
    elif grant_type == "authorization_code":
        answer = grants.authorization_code(client_id=client_id, params=params)
    elif grant_type == "refresh_token":
        answer = grants.refresh_token(client_id=client_id, params=params)
    else:
        raise IdentityError(
            error="unsupported_grant_type", code=70003,
            description=f"The app requested an unsupported grant type '{grant_type}'.",
        )  # fmt: skip
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response
