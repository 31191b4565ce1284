"""Tokens from the stand-in's identity platform, through MSAL."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from profiles.models import TargetAccount
from sandbox.microsoft.testing import MicrosoftControl
from syncengine.targets.microsoft import identity
from tests.syncengine.targets.microsoft.conftest import Organisation

REDIRECT = "http://127.0.0.1:8000/microsoft/back/"


def sign_in(*, flow: dict[str, Any], user_id: str) -> dict[str, str]:
    """What the user's browser does: pick the account on the sign-in page, follow the
    redirect back; the query our redirect URI receives."""
    parts = urlsplit(flow["auth_uri"])
    form = {key: values[0] for key, values in parse_qs(parts.query).items()}
    page = f"{parts.scheme}://{parts.netloc}{parts.path}"
    answer = requests.post(page, data={**form, "user": user_id}, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


@pytest.fixture
def delegated_account(account: TargetAccount, organisation: Organisation) -> TargetAccount:
    """Ann connected her own mailbox: her refresh token is in the account."""
    flow = identity.authorization_flow_start(
        redirect_uri=REDIRECT, login_hint="ann@contoso.example"
    )
    grant = identity.authorization_flow_finish(
        flow=flow, query=sign_in(flow=flow, user_id=organisation.mailbox)
    )
    assert grant.user_object_id == organisation.mailbox
    assert grant.directory_id == organisation.directory_id
    assert grant.username == "ann@contoso.example"
    account.secret = grant.refresh_token
    account.save()
    return account


def test_app_token_after_consent_and_refused_before(
    microsoft: MicrosoftControl, organisation: Organisation
) -> None:
    assert identity.app_access_token(directory_id=organisation.directory_id)

    other = microsoft.directory_create(name="Northwind", domain="northwind.example")
    with pytest.raises(identity.ConsentLost) as refused:
        identity.app_access_token(directory_id=other)
    assert refused.value.permanent
    assert "An administrator of the Microsoft 365 organisation must grant consent again" in str(
        refused.value
    )


def test_admin_consent_url_is_the_v2_endpoint_of_organizations(graph_settings: Any) -> None:
    url = identity.admin_consent_url(redirect_uri=REDIRECT, state="s-1")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == graph_settings.MICROSOFT_GRAPH_URL
    assert parts.path == "/organizations/v2.0/adminconsent"
    assert parse_qs(parts.query) == {
        "client_id": [graph_settings.MICROSOFT_CLIENT_ID],
        "scope": ["https://graph.microsoft.com/.default"],
        "redirect_uri": [REDIRECT],
        "state": ["s-1"],
    }


def test_delegated_refresh_rotates_and_the_new_token_is_saved(
    delegated_account: TargetAccount,
) -> None:
    first = delegated_account.secret
    assert identity.delegated_access_token(target_account=delegated_account)
    delegated_account.refresh_from_db()
    assert delegated_account.secret
    assert delegated_account.secret != first
    # The saved one works again (and rotates again).
    assert identity.delegated_access_token(target_account=delegated_account)
    delegated_account.refresh_from_db()
    assert delegated_account.failure == ""


def test_revoked_grant_is_consent_lost_in_words(
    microsoft: MicrosoftControl, organisation: Organisation, delegated_account: TargetAccount
) -> None:
    microsoft.grant_revoke(user_id=organisation.mailbox)

    with pytest.raises(identity.ConsentLost) as lost:
        identity.delegated_access_token(target_account=delegated_account)

    delegated_account.refresh_from_db()
    assert lost.value.permanent
    assert "connect their Microsoft 365 mailbox again" in delegated_account.failure
    assert delegated_account.failed_at is not None


def test_a_refused_sign_in_is_consent_refused(graph_settings: Any) -> None:
    flow = identity.authorization_flow_start(redirect_uri=REDIRECT, login_hint="")
    with pytest.raises(identity.ConsentRefused, match="declined"):
        identity.authorization_flow_finish(
            flow=flow,
            query={"error": "access_denied", "error_description": "The user declined to consent."},
        )


def test_not_configured_says_what_is_missing(settings: Any) -> None:
    settings.MICROSOFT_CLIENT_SECRET = ""
    with pytest.raises(identity.MicrosoftNotConfigured, match="MICROSOFT_CLIENT_SECRET"):
        identity.app_access_token(directory_id="x")
