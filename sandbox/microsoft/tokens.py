"""Access tokens, id tokens and refresh tokens.

Access tokens are RS256 JWTs for ``https://graph.microsoft.com`` signed with the key of the
JWKS. App tokens carry ``roles``; delegated ones ``scp`` and the user's ``oid``. Refresh
tokens are opaque, stored hashed, and rotate: each one can be redeemed once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.microsoft.config import APP_PERMISSIONS, GRAPH_APP_ID, GRAPH_AUDIENCE
from sandbox.microsoft.runtime import MicrosoftRuntime
from sandbox.storage import Database

ID_TOKEN_LIFETIME = 3600
AUDIENCES = (GRAPH_AUDIENCE, GRAPH_APP_ID)


@dataclass(frozen=True)
class Caller:
    """Who a Graph request comes from, read from its verified access token."""

    kind: str  # "app" or "delegated"
    client_id: str
    tenant_id: str
    user_id: str | None
    permissions: frozenset[str]
    issued_at: float


def issuer(*, runtime: MicrosoftRuntime, tenant_id: str) -> str:
    return f"{runtime.addresses.https()}/{tenant_id}/v2.0"


def sign(*, runtime: MicrosoftRuntime, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims,
        runtime.signing_key.private_pem,
        algorithm="RS256",
        headers={"kid": runtime.signing_key.kid, "typ": "JWT"},
    )


def base_claims(*, runtime: MicrosoftRuntime, tenant_id: str, lifetime: int) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer(runtime=runtime, tenant_id=tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "tid": tenant_id,
        "uti": secrets.token_urlsafe(16),
        "ver": "2.0",
    }


def app_token(*, runtime: MicrosoftRuntime, client_id: str, tenant_id: str) -> str:
    principal = str(uuid.uuid5(uuid.UUID(tenant_id), client_id))
    claims = base_claims(runtime=runtime, tenant_id=tenant_id, lifetime=runtime.token_lifetime)
    claims.update(
        {
            "aud": GRAPH_AUDIENCE, "appid": client_id, "azp": client_id, "idtyp": "app",
            "oid": principal, "sub": principal, "roles": list(APP_PERMISSIONS),
        }
    )  # fmt: skip
    return sign(runtime=runtime, claims=claims)


def delegated_token(
    *, runtime: MicrosoftRuntime, client_id: str, user: sqlite3.Row, scopes: list[str]
) -> str:
    claims = base_claims(
        runtime=runtime, tenant_id=user["directory_id"], lifetime=runtime.token_lifetime
    )
    claims.update(
        {
            "aud": GRAPH_AUDIENCE, "appid": client_id, "azp": client_id, "idtyp": "user",
            "oid": user["id"], "sub": user["id"], "upn": user["mail"],
            "name": user["display_name"], "scp": " ".join(graph_scopes(scopes=scopes)),
        }
    )  # fmt: skip
    return sign(runtime=runtime, claims=claims)


def id_token(
    *, runtime: MicrosoftRuntime, client_id: str, user: sqlite3.Row, nonce: str | None
) -> str:
    claims = base_claims(
        runtime=runtime, tenant_id=user["directory_id"], lifetime=ID_TOKEN_LIFETIME
    )
    claims.update(
        {
            "aud": client_id, "sub": str(uuid.uuid5(uuid.UUID(user["id"]), client_id)),
            "oid": user["id"], "name": user["display_name"],
            "preferred_username": user["mail"], "email": user["mail"],
        }
    )  # fmt: skip
    if nonce:
        claims["nonce"] = nonce
    return sign(runtime=runtime, claims=claims)


def client_info(*, user: sqlite3.Row) -> str:
    """What MSAL keys its account cache by: ``uid`` and ``utid``, base64url JSON."""
    raw = json.dumps({"uid": user["id"], "utid": user["directory_id"]}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def graph_scopes(*, scopes: list[str]) -> list[str]:
    """Graph permission names without the resource prefix; OIDC scopes dropped."""
    result = []
    for scope in scopes:
        name = scope.removeprefix(f"{GRAPH_AUDIENCE}/").removeprefix(f"{GRAPH_APP_ID}/")
        if name and name not in {"openid", "profile", "email", "offline_access", ".default"}:
            result.append(name)
    return result or ["User.Read"]


def verify_access_token(*, runtime: MicrosoftRuntime, token: str) -> Caller:
    """The caller of a valid token; ``jwt.InvalidTokenError`` for anything else."""
    claims = jwt.decode(
        token,
        runtime.signing_key.public_key,
        algorithms=["RS256"],
        audience=list(AUDIENCES),
        options={"require": ["exp", "tid", "appid"]},
    )
    if claims.get("idtyp") == "app":
        return Caller(
            kind="app", client_id=claims["appid"], tenant_id=claims["tid"], user_id=None,
            permissions=frozenset(claims.get("roles", [])), issued_at=float(claims["iat"]),
        )  # fmt: skip
    return Caller(
        kind="delegated", client_id=claims["appid"], tenant_id=claims["tid"],
        user_id=claims["oid"], permissions=frozenset(str(claims.get("scp", "")).split()),
        issued_at=float(claims["iat"]),
    )  # fmt: skip


def hashed(*, token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token(*, database: Database, user_id: str, client_id: str, scope: str) -> str:
    token = "0.A" + secrets.token_urlsafe(48)
    database.execute(
        "INSERT INTO refresh_token (token_hash, user_id, client_id, scope, issued_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (hashed(token=token), user_id, client_id, scope, time.time()),
    )
    return token


def redeem_refresh_token(*, database: Database, token: str, client_id: str) -> sqlite3.Row | str:
    """Mark the token redeemed and return its row, or say why it cannot be redeemed."""
    with database.transaction() as connection:
        row: sqlite3.Row | None = connection.execute(
            "SELECT * FROM refresh_token WHERE token_hash = ?", (hashed(token=token),)
        ).fetchone()
        if row is None or row["client_id"] != client_id:
            return "unknown"
        if row["revoked"]:
            return "revoked"
        if row["redeemed_at"] is not None:
            return "redeemed"
        connection.execute(
            "UPDATE refresh_token SET redeemed_at = ? WHERE token_hash = ?",
            (time.time(), row["token_hash"]),
        )
        return row


def jwks(*, public_key: rsa.RSAPublicKey, kid: str) -> dict[str, Any]:
    numbers = public_key.public_numbers()

    def encode(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return {
        "keys": [
            {"kty": "RSA", "use": "sig", "kid": kid, "alg": "RS256",
             "n": encode(numbers.n), "e": encode(numbers.e)}
        ]
    }  # fmt: skip
