"""The grants of the token endpoint: client credentials, authorization code (with PKCE)
and refresh token (rotating), and how the client authenticates."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from flask import request

from sandbox.microsoft import directory, tokens
from sandbox.microsoft.config import GRAPH_APP_ID, GRAPH_AUDIENCE
from sandbox.microsoft.errors import IdentityError
from sandbox.microsoft.runtime import MicrosoftRuntime, current_runtime

APP_SCOPES = (f"{GRAPH_AUDIENCE}/.default", f"{GRAPH_APP_ID}/.default")


def authenticate_client(*, params: dict[str, str], tenant: str) -> str:
    runtime = current_runtime()
    client_id, secret = params.get("client_id", ""), params.get("client_secret", "")
    header = request.authorization
    if header is not None and header.type == "basic":
        client_id, secret = header.username or "", header.password or ""
    if client_id != runtime.config.client_id:
        raise IdentityError(
            error="unauthorized_client", code=700016,
            description=f"Application with identifier '{client_id}' was not found in the"
            f" directory '{tenant}'.",
        )  # fmt: skip
    if not secrets.compare_digest(secret, runtime.config.client_secret):
        raise IdentityError(
            error="invalid_client", code=7000215, status=401,
            description="Invalid client secret provided. Ensure the secret being sent in the"
            f" request is the client secret value for app '{client_id}'.",
        )  # fmt: skip
    return client_id


def client_credentials(*, tenant: str, client_id: str, params: dict[str, str]) -> dict[str, Any]:
    runtime = current_runtime()
    if params.get("scope", "").strip() not in APP_SCOPES:
        raise IdentityError(
            error="invalid_scope", code=1002012,
            description=f"The provided value for scope {params.get('scope', '')} is not valid."
            f" Client credential flows must use the scope {GRAPH_AUDIENCE}/.default.",
        )  # fmt: skip
    found = directory.find_directory(database=runtime.database, tenant=tenant)
    if found is None:
        raise IdentityError(
            error="invalid_request", code=90009,
            description="The client credentials grant needs a tenant-specific endpoint,"
            " not 'common' or 'organizations'.",
        )  # fmt: skip
    state = directory.consent_state(
        database=runtime.database, directory_id=found["id"], client_id=client_id
    )
    if state != "granted":
        raise IdentityError(
            error="invalid_client", code=7000229,
            description=f"The client application {client_id} is missing service principal in"
            f" the tenant {found['id']}: no administrator of the directory has consented.",
        )  # fmt: skip
    return {
        "token_type": "Bearer",
        "expires_in": runtime.token_lifetime,
        "ext_expires_in": runtime.token_lifetime,
        "access_token": tokens.app_token(
            runtime=runtime, client_id=client_id, tenant_id=found["id"]
        ),
    }


def pkce_matches(*, verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return secrets.compare_digest(computed, challenge)
    return secrets.compare_digest(verifier, challenge)


def authorization_code(*, client_id: str, params: dict[str, str]) -> dict[str, Any]:
    runtime = current_runtime()
    code = params.get("code", "")
    with runtime.database.transaction() as connection:
        row = connection.execute("SELECT * FROM auth_code WHERE code = ?", (code,)).fetchone()
        if row is not None:
            connection.execute("UPDATE auth_code SET used = 1 WHERE code = ?", (code,))
    if row is None or row["client_id"] != client_id:
        raise IdentityError(
            error="invalid_grant", code=9002313, description="The authorization code is invalid."
        )
    if row["used"]:
        raise IdentityError(
            error="invalid_grant", code=54005, description="The OAuth2 authorization code was"
            " already redeemed; acquire a new one.",
        )  # fmt: skip
    if row["expires_at"] < time.time():
        raise IdentityError(
            error="invalid_grant", code=70008, description="The provided authorization code"
            " has expired.",
        )  # fmt: skip
    if params.get("redirect_uri", "") != row["redirect_uri"]:
        raise IdentityError(
            error="invalid_grant", code=50148, description="The redirect_uri does not match the"
            " one the authorization code was requested with.",
        )  # fmt: skip
    if row["challenge"] and not pkce_matches(
        verifier=params.get("code_verifier", ""), challenge=row["challenge"],
        method=row["challenge_method"],
    ):  # fmt: skip
        raise IdentityError(
            error="invalid_grant", code=501481,
            description="The code_verifier does not match the code_challenge supplied in the"
            " authorization request.",
        )  # fmt: skip
    return delegated_answer(
        runtime=runtime, client_id=client_id, user_id=row["user_id"], scope=row["scope"],
        nonce=row["nonce"],
    )  # fmt: skip


def refresh_token(*, client_id: str, params: dict[str, str]) -> dict[str, Any]:
    runtime = current_runtime()
    redeemed = tokens.redeem_refresh_token(
        database=runtime.database, token=params.get("refresh_token", ""), client_id=client_id
    )
    if redeemed == "redeemed":
        raise IdentityError(
            error="invalid_grant", code=70008,
            description="The refresh token was already redeemed: refresh tokens rotate, and"
            " only the newest one works. Sign in again.",
        )  # fmt: skip
    if redeemed == "revoked":
        raise IdentityError(
            error="invalid_grant", code=50173,
            description="The provided grant has expired due to it being revoked; sign in again.",
        )  # fmt: skip
    if isinstance(redeemed, str):
        raise IdentityError(
            error="invalid_grant", code=9002313, description="The refresh token is malformed"
            " or unknown.",
        )  # fmt: skip
    grant = directory.grant_row(
        database=runtime.database, user_id=redeemed["user_id"], client_id=client_id
    )
    if grant is None or grant["revoked_at"] is not None:
        raise IdentityError(
            error="invalid_grant", code=50173,
            description="The provided grant has expired due to it being revoked; sign in again.",
        )  # fmt: skip
    return delegated_answer(
        runtime=runtime, client_id=client_id, user_id=redeemed["user_id"],
        scope=params.get("scope") or redeemed["scope"], nonce=None,
    )  # fmt: skip


def delegated_answer(
    *, runtime: MicrosoftRuntime, client_id: str, user_id: str, scope: str, nonce: str | None
) -> dict[str, Any]:
    user = directory.find_user(database=runtime.database, key=user_id)
    if user is None:
        raise IdentityError(
            error="invalid_grant", code=50034, description="The user account does not exist."
        )
    requested = scope.split()
    granted = tokens.graph_scopes(scopes=requested)
    answer: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(
            granted
            + [
                name
                for name in ("openid", "profile", "email", "offline_access")
                if name in requested
            ]
        ),
        "expires_in": runtime.token_lifetime,
        "ext_expires_in": runtime.token_lifetime,
        "access_token": tokens.delegated_token(
            runtime=runtime, client_id=client_id, user=user, scopes=requested
        ),
        "client_info": tokens.client_info(user=user),
    }
    if "offline_access" in requested:
        answer["refresh_token"] = tokens.new_refresh_token(
            database=runtime.database, user_id=user_id, client_id=client_id, scope=scope
        )
    if "openid" in requested:
        answer["id_token"] = tokens.id_token(
            runtime=runtime, client_id=client_id, user=user, nonce=nonce
        )
    return answer
