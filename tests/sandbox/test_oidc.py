"""SuperID-like login: discovery, JWKS, the code flow, tokens, consent, tenant state."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from sandbox.testing import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SandboxControl,
    SandboxProcess,
    sign_in,
)
from tests.sandbox.tenant_client import (
    ADMIN_EMAIL,
    OTHER_TENANT,
    SHARED_EMAIL,
    TENANT,
    USER_EMAIL,
    TenantApi,
)

CLAIM = "http://schemes.superoffice.net/identity/"
REDIRECT = "http://127.0.0.1:8765/accounts/superoffice/login/callback/"


def authorize(base_url: str, **overrides: str) -> requests.Response:
    params = {
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid",
        "state": "state-123",
        **overrides,
    }
    return requests.get(
        f"{base_url}/login/common/oauth/authorize", params=params, allow_redirects=False, timeout=10
    )


def query_of(response: requests.Response) -> dict[str, str]:
    location = response.headers["Location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def exchange(base_url: str, **fields: str) -> requests.Response:
    body = {
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        **fields,
    }
    return requests.post(f"{base_url}/login/common/oauth/tokens", data=body, timeout=10)


def code_for(base_url: str, email: str = ADMIN_EMAIL, **overrides: str) -> str:
    response = authorize(base_url, login_hint=email, acr_values=f"tenant:{TENANT}", **overrides)
    assert response.status_code == 302, response.text
    return query_of(response)["code"]


def verified_claims(base_url: str, id_token: str) -> dict[str, Any]:
    keys = requests.get(f"{base_url}/login/.well-known/jwks", timeout=10).json()["keys"]
    header = jwt.get_unverified_header(id_token)
    key = next(item for item in keys if item["kid"] == header["kid"])
    public_key = jwt.PyJWK(key).key
    claims: dict[str, Any] = jwt.decode(
        id_token, public_key, algorithms=["RS256"], audience=DEMO_CLIENT_ID, issuer=base_url
    )
    return claims


def test_discovery_names_superoffice_endpoints(sandbox: SandboxControl) -> None:
    config = requests.get(
        f"{sandbox.base_url}/login/.well-known/openid-configuration", timeout=10
    ).json()

    assert config["issuer"] == sandbox.base_url
    assert config["authorization_endpoint"] == f"{sandbox.base_url}/login/common/oauth/authorize"
    assert config["token_endpoint"] == f"{sandbox.base_url}/login/common/oauth/tokens"
    assert config["jwks_uri"] == f"{sandbox.base_url}/login/.well-known/jwks"
    assert config["revocation_endpoint"].startswith(sandbox.base_url)
    assert config["end_session_endpoint"].startswith(sandbox.base_url)
    assert config["scopes_supported"] == ["openid"]
    assert "RS256" in config["id_token_signing_alg_values_supported"]
    assert {"client_secret_post", "client_secret_basic"} <= set(
        config["token_endpoint_auth_methods_supported"]
    )


def test_issuer_follows_the_host_the_request_used(sandbox: SandboxControl) -> None:
    other_host = sandbox.base_url.replace("127.0.0.1", "localhost")
    config = requests.get(f"{other_host}/login/.well-known/openid-configuration", timeout=10).json()

    assert config["issuer"] == other_host


def test_jwks_has_one_rsa_signing_key(sandbox: SandboxControl) -> None:
    keys = requests.get(f"{sandbox.base_url}/login/.well-known/jwks", timeout=10).json()["keys"]

    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["kid"]
    assert keys[0]["alg"] == "RS256"
    assert "d" not in keys[0]  # public part only


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_code_flow_with_pkce_gives_tokens_and_a_signed_id_token(
    sandbox: SandboxControl, method: str
) -> None:
    verifier = "v" * 43 + method
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if method == "S256"
        else verifier
    )
    response = authorize(
        sandbox.base_url,
        login_hint=ADMIN_EMAIL,
        nonce="nonce-42",
        code_challenge=challenge,
        code_challenge_method=method,
    )
    assert response.status_code == 302
    returned = query_of(response)
    assert returned["state"] == "state-123"
    assert response.headers["Location"].startswith(REDIRECT)

    tokens = exchange(sandbox.base_url, code=returned["code"], code_verifier=verifier)

    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"].startswith(f"8A:{TENANT}.")
    assert body["expires_in"] == 3600
    assert body["refresh_token"]
    claims = verified_claims(sandbox.base_url, body["id_token"])
    assert claims["sub"] == ADMIN_EMAIL
    assert claims["nonce"] == "nonce-42"
    assert claims["nbf"] == claims["iat"] - 60
    assert claims["exp"] == claims["iat"] + 300
    assert claims[f"{CLAIM}associateid"] == "1"
    assert claims[f"{CLAIM}ctx"] == TENANT
    assert claims[f"{CLAIM}webapi_url"] == f"{sandbox.base_url}/{TENANT}/api/"
    assert claims[f"{CLAIM}netserver_url"].startswith(f"{sandbox.base_url}/{TENANT}/")
    assert claims[f"{CLAIM}upn"] == ADMIN_EMAIL
    assert claims[f"{CLAIM}email"] == ADMIN_EMAIL
    assert claims[f"{CLAIM}so_primary_email_address"] == ADMIN_EMAIL
    assert claims[f"{CLAIM}company_name"] == "Nordlys Demo AS"
    assert claims[f"{CLAIM}is_administrator"] == "True"
    assert claims[f"{CLAIM}serial"]
    assert claims[f"{CLAIM}identityprovider"]
    assert claims[f"{CLAIM}initials"] == "IH"
    assert all(isinstance(value, str) for key, value in claims.items() if key.startswith(CLAIM))


def test_ordinary_user_is_not_an_administrator(sandbox: SandboxControl) -> None:
    tokens = sign_in(base_url=sandbox.base_url, email=USER_EMAIL)

    claims = verified_claims(sandbox.base_url, tokens["id_token"])
    assert claims[f"{CLAIM}is_administrator"] == "False"
    assert claims[f"{CLAIM}associateid"] == "2"


def test_wrong_pkce_verifier_is_refused(sandbox: SandboxControl) -> None:
    code = code_for(sandbox.base_url, code_challenge="a" * 43, code_challenge_method="S256")

    response = exchange(sandbox.base_url, code=code, code_verifier="b" * 43)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unknown_code_is_invalid_grant(sandbox: SandboxControl) -> None:
    response = exchange(sandbox.base_url, code="not-a-code")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


def test_code_works_once(sandbox: SandboxControl) -> None:
    code = code_for(sandbox.base_url)
    assert exchange(sandbox.base_url, code=code).status_code == 200

    again = exchange(sandbox.base_url, code=code)

    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_bad_client_secret_is_invalid_client(sandbox: SandboxControl) -> None:
    code = code_for(sandbox.base_url)

    response = exchange(sandbox.base_url, code=code, client_secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_client_may_authenticate_with_http_basic(sandbox: SandboxControl) -> None:
    code = code_for(sandbox.base_url)

    response = requests.post(
        f"{sandbox.base_url}/login/common/oauth/tokens",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert response.json()["access_token"].startswith("8A:")


def test_token_parameters_may_come_in_the_query_string(sandbox: SandboxControl) -> None:
    code = code_for(sandbox.base_url)

    response = requests.post(
        f"{sandbox.base_url}/login/common/oauth/tokens",
        params={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    )

    assert response.status_code == 200, response.text


def test_redirect_uri_must_match_the_authorize_request(sandbox: SandboxControl) -> None:
    code = code_for(sandbox.base_url)

    response = exchange(sandbox.base_url, code=code, redirect_uri="http://127.0.0.1:8765/other")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_unsupported_grant_type(sandbox: SandboxControl) -> None:
    response = requests.post(
        f"{sandbox.base_url}/login/common/oauth/tokens",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:54321/callback",
        "http://localhost:8000/accounts/superoffice/login/callback/",
        "http://[::1]:9000/cb",
    ],
)
def test_loopback_redirect_uris_are_accepted_at_any_port(
    sandbox: SandboxControl, redirect_uri: str
) -> None:
    response = authorize(sandbox.base_url, redirect_uri=redirect_uri, login_hint=ADMIN_EMAIL)

    assert response.status_code == 302
    assert response.headers["Location"].startswith(redirect_uri + "?")
    assert "code" in query_of(response)


def test_unregistered_redirect_uri_shows_an_error_page_and_never_redirects(
    sandbox: SandboxControl,
) -> None:
    response = authorize(
        sandbox.base_url, redirect_uri="https://evil.example/callback", login_hint=ADMIN_EMAIL
    )

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "not registered" in response.text


def test_unknown_client_shows_an_error_page(sandbox: SandboxControl) -> None:
    response = authorize(sandbox.base_url, client_id="nobody")

    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "Unknown client_id" in response.text


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"code_challenge_method": "S512", "code_challenge": "x"}, "invalid_request"),
        ({"acr_values": "tenant:Cust99999"}, "invalid_request"),
    ],
)
def test_other_authorize_errors_redirect_with_error(
    sandbox: SandboxControl, override: dict[str, str], error: str
) -> None:
    response = authorize(sandbox.base_url, login_hint=ADMIN_EMAIL, **override)

    assert response.status_code == 302
    returned = query_of(response)
    assert returned["error"] == error
    assert returned["state"] == "state-123"
    assert "code" not in returned


def test_login_page_lists_associates_and_picking_one_returns_a_code(
    sandbox: SandboxControl,
) -> None:
    page = authorize(sandbox.base_url)
    assert page.status_code == 200
    assert ADMIN_EMAIL in page.text
    assert "Nordlys Demo AS" in page.text
    assert "Deny" in page.text

    response = requests.post(
        f"{sandbox.base_url}/login/common/oauth/authorize",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "picked",
            "email": USER_EMAIL,
        },
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    code = query_of(response)["code"]
    tokens = exchange(sandbox.base_url, code=code).json()
    assert verified_claims(sandbox.base_url, tokens["id_token"])["sub"] == USER_EMAIL


def test_shared_email_gets_a_tenant_picker(sandbox: SandboxControl) -> None:
    picker = authorize(sandbox.base_url, login_hint=SHARED_EMAIL)

    assert picker.status_code == 200
    assert TENANT in picker.text
    assert OTHER_TENANT in picker.text

    response = requests.post(
        f"{sandbox.base_url}/login/common/oauth/authorize",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "email": SHARED_EMAIL,
            "tenant": OTHER_TENANT,
        },
        allow_redirects=False,
        timeout=10,
    )
    tokens = exchange(sandbox.base_url, code=query_of(response)["code"]).json()
    assert tokens["access_token"].startswith(f"8A:{OTHER_TENANT}.")


def test_acr_values_skip_the_tenant_picker(sandbox: SandboxControl) -> None:
    response = authorize(
        sandbox.base_url, login_hint=SHARED_EMAIL, acr_values=f"tenant:{OTHER_TENANT}"
    )

    assert response.status_code == 302
    tokens = exchange(sandbox.base_url, code=query_of(response)["code"]).json()
    claims = verified_claims(sandbox.base_url, tokens["id_token"])
    assert claims[f"{CLAIM}ctx"] == OTHER_TENANT


def test_deny_redirects_with_access_denied(sandbox: SandboxControl) -> None:
    response = requests.post(
        f"{sandbox.base_url}/login/common/oauth/authorize",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "scope": "openid",
            "state": "s-deny",
            "deny": "1",
        },
        allow_redirects=False,
        timeout=10,
    )

    assert response.status_code == 302
    assert query_of(response)["error"] == "access_denied"
    assert query_of(response)["state"] == "s-deny"


def test_inactive_associate_cannot_sign_in(sandbox: SandboxControl) -> None:
    response = authorize(sandbox.base_url, login_hint="tor.bakke@nordlys-demo.example")

    assert response.status_code == 200
    assert "No active user" in response.text


def test_fragment_response_mode(sandbox: SandboxControl) -> None:
    response = authorize(sandbox.base_url, login_hint=ADMIN_EMAIL, response_mode="fragment")

    fragment = parse_qs(urlsplit(response.headers["Location"]).fragment)
    assert "code" in fragment
    assert fragment["state"] == ["state-123"]


def test_refresh_gives_a_new_access_token_and_no_refresh_token(sandbox: SandboxControl) -> None:
    tokens = sign_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)

    response = requests.post(
        f"{sandbox.base_url}/login/common/oauth/tokens",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body
    assert body["access_token"] != tokens["access_token"]
    assert verified_claims(sandbox.base_url, body["id_token"])["sub"] == ADMIN_EMAIL
    fresh = TenantApi(base_url=sandbox.base_url, tenant=TENANT, tokens=body)
    assert fresh.get("User/currentPrincipal").status_code == 200


def refresh(base_url: str, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{base_url}/login/common/oauth/tokens",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    )


def test_revoked_consent_kills_refresh_and_access_tokens(sandbox: SandboxControl) -> None:
    api = TenantApi.signed_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)
    assert api.get("User/currentPrincipal").status_code == 200

    sandbox.revoke_consent(tenant=TENANT, associate_id=1)

    assert api.get("User/currentPrincipal").status_code == 401
    refused = refresh(sandbox.base_url, api.tokens["refresh_token"])
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    signed_in_again = TenantApi.signed_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)
    assert signed_in_again.get("User/currentPrincipal").status_code == 200


def test_revoking_one_refresh_token(sandbox: SandboxControl) -> None:
    tokens = sign_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)

    revoked = requests.post(
        f"{sandbox.base_url}/login/common/oauth/revoke",
        data={
            "token": tokens["refresh_token"],
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    )

    assert revoked.status_code == 200
    assert refresh(sandbox.base_url, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_short_token_lifetime_makes_tokens_expire(sandbox: SandboxControl) -> None:
    sandbox.set_faults(access_token_lifetime=1)
    api = TenantApi.signed_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)
    assert api.tokens["expires_in"] == 1
    assert api.get("User/currentPrincipal").status_code == 200

    time.sleep(1.2)

    expired = api.get("User/currentPrincipal")
    assert expired.status_code == 401
    assert expired.json()["Error"] is True
    assert refresh(sandbox.base_url, api.tokens["refresh_token"]).status_code == 200


def test_expire_all_tokens_now(sandbox: SandboxControl) -> None:
    api = TenantApi.signed_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)

    sandbox.expire_tokens()

    assert api.get("User/currentPrincipal").status_code == 401
    renewed = refresh(sandbox.base_url, api.tokens["refresh_token"]).json()
    assert (
        TenantApi(base_url=sandbox.base_url, tenant=TENANT, tokens=renewed)
        .get("User/currentPrincipal")
        .status_code
        == 200
    )


def test_tenant_state(sandbox: SandboxControl) -> None:
    state = requests.get(f"{sandbox.base_url}/api/state/{TENANT}", timeout=10).json()

    assert state["ContextIdentifier"] == TENANT
    assert state["Endpoint"] == f"{sandbox.base_url}/{TENANT}"
    assert state["Api"] == f"{sandbox.base_url}/{TENANT}/api"
    assert state["State"] == "Running"
    assert state["IsRunning"] is True
    assert state["ValidUntil"]
    assert state["Version"]


def test_unknown_tenant_state_is_404_error_json(sandbox: SandboxControl) -> None:
    response = requests.get(f"{sandbox.base_url}/api/state/Cust99999", timeout=10)

    assert response.status_code == 404
    assert response.json()["Error"] is True


def test_registered_clients_come_from_settings(tmp_path: Any) -> None:
    clients = [
        {
            "client_id": "registered-app",
            "client_secret": "s3cret",
            "redirect_uris": ["https://app.example/callback"],
        }
    ]
    with SandboxProcess(
        data_dir=tmp_path, persons=200, clients_json=json.dumps(clients)
    ) as process:
        accepted = authorize(
            process.base_url,
            client_id="registered-app",
            redirect_uri="https://app.example/callback",
            login_hint=ADMIN_EMAIL,
        )
        other_uri = authorize(
            process.base_url,
            client_id="registered-app",
            redirect_uri="https://app.example/other",
            login_hint=ADMIN_EMAIL,
        )
        demo_gone = authorize(process.base_url, login_hint=ADMIN_EMAIL)

    assert accepted.status_code == 302
    assert accepted.headers["Location"].startswith("https://app.example/callback?code=")
    assert other_uri.status_code == 400
    assert demo_gone.status_code == 400
