"""SuperID-like OpenID Connect: discovery, JWKS, authorize (with a login page), tokens.

Paths are SuperOffice's: ``/login/.well-known/openid-configuration``,
``/login/common/oauth/authorize``, ``/login/common/oauth/tokens``. Access tokens are
opaque ``8A:{ctx}.{random}`` strings; refresh tokens are opaque and last as long as the
consent. A refresh answers a new access token and id_token but no new refresh token, as
SuperOffice does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import jwt
from flask import Blueprint, Response, jsonify, redirect, render_template, request

from sandbox.config import OAuthClient
from sandbox.runtime import SandboxRuntime, current_runtime
from sandbox.tenants import tenant_base_url

CLAIM_PREFIX = "http://schemes.superoffice.net/identity/"
CODE_LIFETIME_SECONDS = 600
ID_TOKEN_LIFETIME_SECONDS = 300
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "login_hint",
    "acr_values",
    "code_challenge",
    "code_challenge_method",
)

blueprint = Blueprint("oidc", __name__)


class OAuthError(Exception):
    """An OAuth error answered as JSON by the token endpoint."""

    def __init__(self, *, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def base_url() -> str:
    return request.host_url.rstrip("/")


def is_loopback_uri(*, uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme in {"http", "https"} and (parts.hostname or "") in LOOPBACK_HOSTS


def redirect_uri_allowed(*, client: OAuthClient, uri: str) -> bool:
    """Loopback URIs at any port and path, like a native-app server; others exactly."""
    if not uri:
        return False
    return is_loopback_uri(uri=uri) or uri in client.redirect_uris


@blueprint.get("/login/.well-known/openid-configuration")
def discovery() -> Response:
    base = base_url()
    return jsonify(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/login/common/oauth/authorize",
            "token_endpoint": f"{base}/login/common/oauth/tokens",
            "jwks_uri": f"{base}/login/.well-known/jwks",
            "revocation_endpoint": f"{base}/login/common/oauth/revoke",
            "end_session_endpoint": f"{base}/login/common/oauth/logout",
            "scopes_supported": ["openid"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["form_post", "fragment", "query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "code_challenge_methods_supported": ["plain", "S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nbf",
                "nonce",
                *(f"{CLAIM_PREFIX}{name}" for name in IDENTITY_CLAIMS),
            ],
        }
    )


@blueprint.get("/login/.well-known/jwks")
def jwks() -> Response:
    key = current_runtime().signing_key
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key))
    public_jwk.update({"kid": key.kid, "use": "sig", "alg": "RS256"})
    return jsonify({"keys": [public_jwk]})


# --- authorize -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizeRequest:
    params: dict[str, str]
    client: OAuthClient

    @property
    def redirect_uri(self) -> str:
        return self.params["redirect_uri"]

    def hidden_fields(self) -> dict[str, str]:
        return {key: value for key, value in self.params.items() if value}


def error_page(*, message: str, status: int = 400) -> tuple[str, int]:
    return render_template("error.html", message=message), status


def redirect_to_client(*, authorize: AuthorizeRequest, values: dict[str, str]) -> Any:
    """Send the result back to the client in the response mode it asked for."""
    state = authorize.params.get("state")
    if state:
        values = {**values, "state": state}
    mode = authorize.params.get("response_mode") or "query"
    if mode == "form_post":
        return render_template("form_post.html", action=authorize.redirect_uri, values=values)
    parts = urlsplit(authorize.redirect_uri)
    if mode == "fragment":
        return redirect(urlunsplit(parts._replace(fragment=urlencode(values))))
    query = parse_qsl(parts.query, keep_blank_values=True) + list(values.items())
    return redirect(urlunsplit(parts._replace(query=urlencode(query))))


def redirect_error(*, authorize: AuthorizeRequest, error: str, description: str) -> Any:
    return redirect_to_client(
        authorize=authorize, values={"error": error, "error_description": description}
    )


def read_authorize_request(*, source: dict[str, str]) -> AuthorizeRequest | tuple[str, int]:
    """Check client and redirect URI first: errors about them must never redirect."""
    runtime = current_runtime()
    params = {name: source.get(name, "") for name in AUTHORIZE_PARAMS}
    client = runtime.config.client(client_id=params["client_id"])
    if client is None:
        return error_page(message=f"Unknown client_id {params['client_id']!r}.")
    if not redirect_uri_allowed(client=client, uri=params["redirect_uri"]):
        return error_page(
            message=f"The redirect_uri {params['redirect_uri']!r} is not registered for "
            f"client {client.client_id!r}."
        )
    return AuthorizeRequest(params=params, client=client)


def authorize_problem(*, authorize: AuthorizeRequest) -> tuple[str, str] | None:
    params = authorize.params
    if params["response_type"] != "code":
        return "unsupported_response_type", "Only response_type=code is supported."
    if "openid" not in params["scope"].split():
        return "invalid_scope", "The scope must contain openid."
    if params["response_mode"] not in {"", "query", "fragment", "form_post"}:
        return "invalid_request", "response_mode must be query, fragment or form_post."
    method = params["code_challenge_method"]
    if method and method not in {"S256", "plain"}:
        return "invalid_request", "code_challenge_method must be S256 or plain."
    if method and not params["code_challenge"]:
        return "invalid_request", "code_challenge_method given without code_challenge."
    tenant = requested_tenant(authorize=authorize)
    if tenant is not None:
        known = current_runtime().crm.query_one("SELECT 1 FROM tenant WHERE ctx = ?", (tenant,))
        if known is None:
            return "invalid_request", f"Unknown tenant {tenant!r} in acr_values."
    return None


def requested_tenant(*, authorize: AuthorizeRequest) -> str | None:
    for value in authorize.params["acr_values"].split():
        if value.lower().startswith("tenant:"):
            return value.split(":", 1)[1]
    return None


def login_candidates(
    *, runtime: SandboxRuntime, email: str | None, tenant: str | None
) -> list[sqlite3.Row]:
    clauses = ["s.is_active = 1"]
    params: list[Any] = []
    if email is not None:
        clauses.append("so_fold(s.email) = so_fold(?)")
        params.append(email)
    if tenant is not None:
        clauses.append("s.tenant = ?")
        params.append(tenant)
    return runtime.crm.query(
        "SELECT s.*, t.company_name FROM associate s JOIN tenant t ON t.ctx = s.tenant"  # noqa: S608 - fixed clauses; values are bound
        f" WHERE {' AND '.join(clauses)} ORDER BY s.tenant, s.first_name, s.last_name",
        params,
    )


@blueprint.route("/login/common/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    source = dict(request.values.items())
    checked = read_authorize_request(source=source)
    if not isinstance(checked, AuthorizeRequest):
        return checked
    problem = authorize_problem(authorize=checked)
    if problem is not None:
        return redirect_error(authorize=checked, error=problem[0], description=problem[1])
    if request.method == "POST" and "deny" in request.form:
        return redirect_error(
            authorize=checked, error="access_denied", description="The user denied access."
        )
    runtime = current_runtime()
    tenant = request.form.get("tenant") or requested_tenant(authorize=checked)
    email = request.form.get("email") or checked.params["login_hint"] or None
    notice = ""
    if email:
        candidates = login_candidates(runtime=runtime, email=email, tenant=tenant)
        if len(candidates) == 1:
            return issue_code(authorize=checked, associate=candidates[0])
        if len(candidates) > 1:
            return render_template(
                "tenant_picker.html",
                fields=checked.hidden_fields(),
                email=email,
                candidates=candidates,
            )
        notice = f"No active user with the e-mail {email} can sign in here."
    return render_template(
        "login.html",
        fields={k: v for k, v in checked.hidden_fields().items() if k != "login_hint"},
        candidates=login_candidates(runtime=runtime, email=None, tenant=tenant),
        notice=notice,
        client_id=checked.client.client_id,
    )


def issue_code(*, authorize: AuthorizeRequest, associate: sqlite3.Row) -> Any:
    code = secrets.token_urlsafe(32)
    params = authorize.params
    current_runtime().auth.execute(
        "INSERT INTO authorization_code (code, client_id, redirect_uri, tenant, associate_id,"
        " nonce, code_challenge, code_challenge_method, expires_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            code,
            authorize.client.client_id,
            authorize.redirect_uri,
            associate["tenant"],
            associate["associate_id"],
            params["nonce"] or None,
            params["code_challenge"] or None,
            (params["code_challenge_method"] or "plain") if params["code_challenge"] else None,
            time.time() + CODE_LIFETIME_SECONDS,
        ),
    )
    return redirect_to_client(authorize=authorize, values={"code": code})


# --- tokens ----------------------------------------------------------------------------


def token_params() -> dict[str, str]:
    """SuperOffice's own docs put the parameters in the query string; accept both."""
    params = dict(request.args.items())
    params.update(request.form.items())
    return params


def authenticate_client(*, runtime: SandboxRuntime, params: dict[str, str]) -> OAuthClient:
    header = request.headers.get("Authorization", "")
    client_id = params.get("client_id", "")
    secret = params.get("client_secret", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
            basic_id, _, basic_secret = decoded.partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(
                error="invalid_client", description="Unreadable Basic credentials.", status=401
            ) from None
        client_id, secret = unquote(basic_id), unquote(basic_secret)
    client = runtime.config.client(client_id=client_id)
    if client is None or not hmac.compare_digest(client.client_secret, secret):
        raise OAuthError(
            error="invalid_client", description="Unknown client or wrong secret.", status=401
        )
    return client


def pkce_matches(*, verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return hmac.compare_digest(computed, challenge)
    return hmac.compare_digest(verifier, challenge)


def consent_revoked_since(
    *, runtime: SandboxRuntime, tenant: str, associate_id: int, client_id: str, issued_at: float
) -> bool:
    revoked_at = runtime.auth.scalar(
        "SELECT revoked_at FROM consent_revocation WHERE tenant = ? AND associate_id = ?"
        " AND client_id = ?",
        (tenant, associate_id, client_id),
    )
    return revoked_at is not None and float(revoked_at) >= issued_at


IDENTITY_CLAIMS = (
    "associateid",
    "ctx",
    "webapi_url",
    "netserver_url",
    "upn",
    "email",
    "so_primary_email_address",
    "company_name",
    "is_administrator",
    "serial",
    "identityprovider",
    "initials",
)


def id_token_for(
    *, runtime: SandboxRuntime, tenant: str, associate_id: int, client_id: str, nonce: str | None
) -> str:
    row = runtime.crm.query_one(
        "SELECT s.*, t.company_name, t.serial FROM associate s JOIN tenant t ON t.ctx = s.tenant"
        " WHERE s.tenant = ? AND s.associate_id = ?",
        (tenant, associate_id),
    )
    if row is None:
        raise OAuthError(error="invalid_grant", description="The user no longer exists.")
    now = int(time.time())
    tenant_base = tenant_base_url(ctx=tenant)
    identity = {
        "associateid": str(associate_id),
        "ctx": tenant,
        "webapi_url": f"{tenant_base}/api/",
        "netserver_url": f"{tenant_base}/Remote/Services88/",
        "upn": row["email"],
        "email": row["email"],
        "so_primary_email_address": row["email"],
        "company_name": row["company_name"],
        "is_administrator": "True" if row["is_administrator"] else "False",
        "serial": row["serial"],
        "identityprovider": "superoffice",
        "initials": row["login"],
    }
    claims: dict[str, Any] = {
        "iss": base_url(),
        "aud": client_id,
        "sub": row["email"],
        "iat": now,
        "nbf": now - 60,
        "exp": now + ID_TOKEN_LIFETIME_SECONDS,
        **{f"{CLAIM_PREFIX}{name}": value for name, value in identity.items()},
    }
    if nonce:
        claims["nonce"] = nonce
    key = runtime.signing_key
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})


def new_access_token(
    *, runtime: SandboxRuntime, tenant: str, associate_id: int, client_id: str
) -> tuple[str, int]:
    lifetime = runtime.faults.access_token_lifetime()
    token = f"8A:{tenant}.{secrets.token_urlsafe(32)}"
    now = time.time()
    runtime.auth.execute(
        "INSERT INTO access_token VALUES (?,?,?,?,?,?)",
        (token, tenant, associate_id, client_id, now, now + lifetime),
    )
    return token, lifetime


def exchange_code(
    *, runtime: SandboxRuntime, client: OAuthClient, params: dict[str, str]
) -> dict[str, Any]:
    code = params.get("code", "")
    row = runtime.auth.query_one("SELECT * FROM authorization_code WHERE code = ?", (code,))
    if row is None:
        raise OAuthError(error="invalid_grant", description="Unknown authorization code.")
    claimed = runtime.auth.execute(
        "UPDATE authorization_code SET used = 1 WHERE code = ? AND used = 0", (code,)
    )
    if not claimed:
        raise OAuthError(
            error="invalid_grant", description="The authorization code was already used."
        )
    if row["expires_at"] < time.time():
        raise OAuthError(error="invalid_grant", description="The authorization code has expired.")
    if row["client_id"] != client.client_id:
        raise OAuthError(
            error="invalid_grant", description="The code was issued to another client."
        )
    if params.get("redirect_uri", "") != row["redirect_uri"]:
        raise OAuthError(
            error="invalid_grant",
            description="redirect_uri does not match the one used to authorize.",
        )
    if row["code_challenge"]:
        verifier = params.get("code_verifier", "")
        if not verifier or not pkce_matches(
            verifier=verifier, challenge=row["code_challenge"], method=row["code_challenge_method"]
        ):
            raise OAuthError(error="invalid_grant", description="PKCE verification failed.")
    tenant, associate_id = row["tenant"], row["associate_id"]
    access_token, lifetime = new_access_token(
        runtime=runtime, tenant=tenant, associate_id=associate_id, client_id=client.client_id
    )
    refresh_token = secrets.token_urlsafe(48)
    runtime.auth.execute(
        "INSERT INTO refresh_token VALUES (?,?,?,?,?,?)",
        (refresh_token, tenant, associate_id, client.client_id, time.time(), row["nonce"]),
    )
    return {
        "token_type": "Bearer",
        "access_token": access_token,
        "expires_in": lifetime,
        "refresh_token": refresh_token,
        "id_token": id_token_for(
            runtime=runtime,
            tenant=tenant,
            associate_id=associate_id,
            client_id=client.client_id,
            nonce=row["nonce"],
        ),
    }


def refresh(
    *, runtime: SandboxRuntime, client: OAuthClient, params: dict[str, str]
) -> dict[str, Any]:
    row = runtime.auth.query_one(
        "SELECT * FROM refresh_token WHERE token = ?", (params.get("refresh_token", ""),)
    )
    if row is None or row["client_id"] != client.client_id:
        raise OAuthError(error="invalid_grant", description="Unknown or revoked refresh token.")
    if consent_revoked_since(
        runtime=runtime,
        tenant=row["tenant"],
        associate_id=row["associate_id"],
        client_id=client.client_id,
        issued_at=row["issued_at"],
    ):
        raise OAuthError(error="invalid_grant", description="The user's consent was revoked.")
    access_token, lifetime = new_access_token(
        runtime=runtime,
        tenant=row["tenant"],
        associate_id=row["associate_id"],
        client_id=client.client_id,
    )
    return {
        "token_type": "Bearer",
        "access_token": access_token,
        "expires_in": lifetime,
        "id_token": id_token_for(
            runtime=runtime,
            tenant=row["tenant"],
            associate_id=row["associate_id"],
            client_id=client.client_id,
            nonce=None,
        ),
    }


def oauth_error_response(*, error: OAuthError) -> Response:
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = error.status
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="SuperOffice"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/login/common/oauth/tokens")
def tokens() -> Response:
    runtime = current_runtime()
    runtime.requests.count(kind="token")
    params = token_params()
    try:
        client = authenticate_client(runtime=runtime, params=params)
        grant_type = params.get("grant_type", "")
        if grant_type == "authorization_code":
            body = exchange_code(runtime=runtime, client=client, params=params)
        elif grant_type == "refresh_token":
            body = refresh(runtime=runtime, client=client, params=params)
        else:
            raise OAuthError(
                error="unsupported_grant_type",
                description=f"grant_type {grant_type!r} is not supported.",
            )
    except OAuthError as error:
        return oauth_error_response(error=error)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@blueprint.post("/login/common/oauth/revoke")
def revoke() -> Response:
    """RFC 7009: revoke one refresh or access token; unknown tokens are not an error."""
    runtime = current_runtime()
    params = token_params()
    try:
        client = authenticate_client(runtime=runtime, params=params)
    except OAuthError as error:
        return oauth_error_response(error=error)
    token = params.get("token", "")
    runtime.auth.execute(
        "DELETE FROM refresh_token WHERE token = ? AND client_id = ?", (token, client.client_id)
    )
    runtime.auth.execute(
        "DELETE FROM access_token WHERE token = ? AND client_id = ?", (token, client.client_id)
    )
    return Response(status=200)


@blueprint.get("/login/common/oauth/logout")
def logout() -> Any:
    target = request.args.get("post_logout_redirect_uri", "")
    if target and is_loopback_uri(uri=target):
        return redirect(target)
    return render_template("error.html", message="You are signed out of the SuperOffice sandbox.")


def revoke_consent(
    *, runtime: SandboxRuntime, tenant: str, associate_id: int, client_id: str | None
) -> list[str]:
    """Revoke an associate's consent for one client (or all); return the clients touched."""
    clients = [client_id] if client_id else [c.client_id for c in runtime.config.clients]
    now = time.time()
    for name in clients:
        runtime.auth.execute(
            "INSERT OR REPLACE INTO consent_revocation VALUES (?,?,?,?)",
            (tenant, associate_id, name, now),
        )
    return clients


@dataclass(frozen=True)
class TokenHolder:
    tenant: str
    associate_id: int
    client_id: str


def access_token_holder(*, runtime: SandboxRuntime, token: str) -> TokenHolder | None:
    """Who holds this access token, or None when it is unknown, expired or revoked."""
    row = runtime.auth.query_one("SELECT * FROM access_token WHERE token = ?", (token,))
    if row is None:
        return None
    if (
        row["expires_at"] <= time.time()
        or row["issued_at"] <= runtime.faults.tokens_expired_before()
    ):
        return None
    if consent_revoked_since(
        runtime=runtime,
        tenant=row["tenant"],
        associate_id=row["associate_id"],
        client_id=row["client_id"],
        issued_at=row["issued_at"],
    ):
        return None
    return TokenHolder(
        tenant=row["tenant"], associate_id=row["associate_id"], client_id=row["client_id"]
    )
