"""The identity platform: discovery, keys, client credentials (with MSAL), admin consent,
authorization code with PKCE, refresh-token rotation and revoked grants."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import msal
import requests

from sandbox.microsoft.testing import GRAPH_SCOPE, MicrosoftControl, MicrosoftProcess
from tests.sandbox.microsoft.conftest import Directory, Graph

REDIRECT = "http://127.0.0.1:9/callback"


def msal_app(server: MicrosoftProcess, *, tenant: str, secret: str | None = None) -> Any:
    session = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE (set on these machines) override Session.verify
    # unless the session ignores the environment.
    session.trust_env = False
    session.verify = str(server.ca_bundle)
    return msal.ConfidentialClientApplication(
        server.client_id,
        client_credential=secret or server.client_secret,
        authority=f"{server.login_url}/{tenant}",
        instance_discovery=False,
        http_client=session,
    )


def test_openid_configuration_points_at_both_listeners(
    microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    answer = requests.get(
        f"{microsoft_server.login_url}/contoso.example/v2.0/.well-known/openid-configuration",
        verify=str(microsoft_server.ca_bundle),
        timeout=10,
    ).json()

    assert answer["issuer"] == f"{microsoft_server.login_url}/{contoso.id}/v2.0"
    assert answer["token_endpoint"].startswith(f"{microsoft_server.login_url}/")
    assert answer["authorization_endpoint"].startswith(f"{microsoft_server.graph_url}/")
    keys = requests.get(answer["jwks_uri"], verify=str(microsoft_server.ca_bundle), timeout=10)
    assert keys.json()["keys"][0]["kty"] == "RSA"


def test_unknown_tenant_is_refused(microsoft_server: MicrosoftProcess, contoso: Directory) -> None:
    answer = requests.get(
        f"{microsoft_server.graph_url}/nowhere.example/v2.0/.well-known/openid-configuration",
        timeout=10,
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_tenant"


def test_msal_client_credentials_after_consent(
    microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    result = msal_app(microsoft_server, tenant=contoso.id).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )

    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == contoso.id
    assert sorted(claims["roles"]) == ["Contacts.ReadWrite", "User.Read.All"]


def test_client_credentials_refused_before_consent(
    microsoft: MicrosoftControl, microsoft_server: MicrosoftProcess
) -> None:
    directory_id = microsoft.directory_create(name="Fabrikam", domain="fabrikam.example")

    result = msal_app(microsoft_server, tenant=directory_id).acquire_token_for_client(
        scopes=[GRAPH_SCOPE]
    )

    assert result["error"] == "invalid_client"
    assert "AADSTS7000229" in result["error_description"]


def test_wrong_secret_and_unknown_client(
    microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    wrong = requests.post(
        f"{microsoft_server.login_url}/{contoso.id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": microsoft_server.client_id,
              "client_secret": "nope", "scope": GRAPH_SCOPE},
        verify=str(microsoft_server.ca_bundle), timeout=10,
    )  # fmt: skip
    unknown = requests.post(
        f"{microsoft_server.login_url}/{contoso.id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "someone-else",
              "client_secret": "x", "scope": GRAPH_SCOPE},
        verify=str(microsoft_server.ca_bundle), timeout=10,
    )  # fmt: skip

    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert "AADSTS7000215" in wrong.json()["error_description"]
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unauthorized_client")
    assert "AADSTS700016" in unknown.json()["error_description"]


def test_client_credentials_need_a_specific_tenant_and_the_graph_scope(
    microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    assert microsoft_server.app_token_answer(tenant="organizations").status_code == 400
    answer = requests.post(
        f"{microsoft_server.login_url}/{contoso.id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": microsoft_server.client_id,
              "client_secret": microsoft_server.client_secret, "scope": "Contacts.ReadWrite"},
        verify=str(microsoft_server.ca_bundle), timeout=10,
    )  # fmt: skip
    assert answer.json()["error"] == "invalid_scope"


def form_fields(html: str) -> dict[str, str]:
    return {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    }


def button_value(html: str, *, label: str) -> str:
    match = re.search(
        r'<button type="submit" name="user" value="([^"]+)">' + re.escape(label), html
    )
    assert match, f"No button {label!r}"
    return match[1]


def test_admin_consent_accept_records_consent(
    microsoft: MicrosoftControl, microsoft_server: MicrosoftProcess
) -> None:
    directory_id = microsoft.directory_create(name="Fabrikam", domain="fabrikam.example")
    microsoft.user_create(
        directory_id=directory_id, display_name="Fay Admin", mail="fay@fabrikam.example",
        is_admin=True,
    )  # fmt: skip
    microsoft.user_create(
        directory_id=directory_id, display_name="Nils Normal", mail="nils@fabrikam.example"
    )
    url = f"{microsoft_server.graph_url}/organizations/v2.0/adminconsent"
    params = {"client_id": microsoft_server.client_id, "scope": GRAPH_SCOPE,
              "redirect_uri": REDIRECT, "state": "s1"}  # fmt: skip
    page = requests.get(url, params=params, timeout=10)
    assert page.status_code == 200
    assert "Nils Normal" not in page.text
    user = button_value(page.text, label="Accept as Fay Admin")

    answer = requests.post(
        url, data={**form_fields(page.text), "user": user}, allow_redirects=False, timeout=10
    )

    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["admin_consent"] == ["True"]
    assert query["tenant"] == [directory_id]
    assert query["state"] == ["s1"]
    assert microsoft.directories()[0]["consent"] == "granted"
    assert microsoft_server.app_token_answer(tenant=directory_id).status_code == 200


def test_admin_consent_cancel(microsoft_server: MicrosoftProcess, contoso: Directory) -> None:
    url = f"{microsoft_server.graph_url}/{contoso.id}/adminconsent"
    params = {"client_id": microsoft_server.client_id, "scope": GRAPH_SCOPE,
              "redirect_uri": REDIRECT, "state": "s2"}  # fmt: skip
    page = requests.get(url, params=params, timeout=10)

    answer = requests.post(
        url, data={**form_fields(page.text), "cancel": "1"}, allow_redirects=False, timeout=10
    )

    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["error"] == ["consent_required"]  # as v2-admin-consent.md's error response
    assert query["admin_consent"] == ["True"]
    assert query["state"] == ["s2"]


def sign_in(
    server: MicrosoftProcess, *, user: dict[str, Any], tenant: str = "organizations"
) -> dict[str, Any]:
    """The code flow with PKCE, the authorize page driven with plain requests."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    url = f"{server.graph_url}/{tenant}/oauth2/v2.0/authorize"
    params = {
        "client_id": server.client_id, "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "https://graph.microsoft.com/Contacts.ReadWrite offline_access openid profile",
        "state": "st", "nonce": "n-1", "login_hint": user["mail"],
        "code_challenge": challenge.rstrip(b"=").decode(), "code_challenge_method": "S256",
    }  # fmt: skip
    page = requests.get(url, params=params, timeout=10)
    chosen = button_value(page.text, label=f"Sign in as {user['displayName']}")
    answer = requests.post(
        url, data={**form_fields(page.text), "user": chosen}, allow_redirects=False, timeout=10
    )
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["st"]
    tokens = requests.post(
        f"{server.login_url}/{tenant}/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "code": query["code"][0],
              "redirect_uri": REDIRECT, "client_id": server.client_id,
              "client_secret": server.client_secret, "code_verifier": verifier},
        verify=str(server.ca_bundle), timeout=10,
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    result: dict[str, Any] = tokens.json()
    return result


def refresh(server: MicrosoftProcess, *, token: str) -> requests.Response:
    return requests.post(
        f"{server.login_url}/organizations/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": token,
              "client_id": server.client_id, "client_secret": server.client_secret},
        verify=str(server.ca_bundle), timeout=10,
    )  # fmt: skip


def test_authorization_code_with_pkce_and_refresh_rotation(
    microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    tokens = sign_in(microsoft_server, user=contoso.user)

    assert "Contacts.ReadWrite" in tokens["scope"]
    assert "offline_access" in tokens["scope"]
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert id_claims["nonce"] == "n-1"
    assert id_claims["tid"] == contoso.id
    me = Graph(base_url=microsoft_server.graph_url, token=tokens["access_token"]).get("/me")
    assert me.json()["mail"] == "bo@contoso.example"
    renewed = refresh(microsoft_server, token=tokens["refresh_token"])
    assert renewed.status_code == 200
    assert renewed.json()["refresh_token"] != tokens["refresh_token"]
    again = refresh(microsoft_server, token=tokens["refresh_token"])
    assert again.json()["error"] == "invalid_grant"
    assert refresh(microsoft_server, token=renewed.json()["refresh_token"]).status_code == 200


def test_wrong_code_verifier_is_refused(
    microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    url = f"{microsoft_server.graph_url}/{contoso.id}/oauth2/v2.0/authorize"
    params = {"client_id": microsoft_server.client_id, "response_type": "code",
              "redirect_uri": REDIRECT, "scope": "openid offline_access Contacts.ReadWrite",
              "code_challenge": "x" * 43, "code_challenge_method": "S256"}  # fmt: skip
    page = requests.get(url, params=params, timeout=10)
    chosen = button_value(page.text, label="Sign in as Bo Berg")
    location = requests.post(
        url, data={**form_fields(page.text), "user": chosen}, allow_redirects=False, timeout=10
    ).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]

    answer = requests.post(
        f"{microsoft_server.login_url}/{contoso.id}/oauth2/v2.0/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
              "client_id": microsoft_server.client_id,
              "client_secret": microsoft_server.client_secret, "code_verifier": "wrong"},
        verify=str(microsoft_server.ca_bundle), timeout=10,
    )  # fmt: skip

    assert answer.json()["error"] == "invalid_grant"


def test_revoked_grant_stops_refresh_and_access_tokens(
    microsoft: MicrosoftControl, microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    tokens = sign_in(microsoft_server, user=contoso.user)

    microsoft.grant_revoke(user_id=contoso.user["id"])

    answer = refresh(microsoft_server, token=tokens["refresh_token"])
    assert answer.json()["error"] == "invalid_grant"
    assert "AADSTS50173" in answer.json()["error_description"]
    me = Graph(base_url=microsoft_server.graph_url, token=tokens["access_token"]).get("/me")
    assert me.status_code == 401
    assert me.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_msal_authorization_code_flow_and_refresh(
    microsoft_server: MicrosoftProcess, contoso: Directory
) -> None:
    app = msal_app(microsoft_server, tenant="organizations")
    flow = app.initiate_auth_code_flow(
        scopes=["https://graph.microsoft.com/Contacts.ReadWrite"],
        redirect_uri=REDIRECT,
        login_hint=contoso.other["mail"],
    )
    page = requests.get(flow["auth_uri"], timeout=10)
    chosen = button_value(page.text, label="Sign in as Cy Carlsen")
    location = requests.post(
        flow["auth_uri"].split("?")[0],
        data={**form_fields(page.text), "user": chosen},
        allow_redirects=False,
        timeout=10,
    ).headers["Location"]
    answer = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}

    result = app.acquire_token_by_auth_code_flow(flow, answer)

    assert "access_token" in result, result
    assert result["id_token_claims"]["oid"] == contoso.other["id"]
    renewed = app.acquire_token_by_refresh_token(
        result["refresh_token"], scopes=["https://graph.microsoft.com/Contacts.ReadWrite"]
    )
    assert "access_token" in renewed, renewed
    stale = app.acquire_token_by_refresh_token(
        result["refresh_token"], scopes=["https://graph.microsoft.com/Contacts.ReadWrite"]
    )
    assert stale["error"] == "invalid_grant"
