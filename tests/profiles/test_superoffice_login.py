"""Signing in through allauth against the live sandbox process, as a browser would:
our login view → the sandbox's authorize endpoint → our callback → the token exchange."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from profiles.models import SuperOfficeToken, Tenant, User
from profiles.services import linked_user_link, profile_create
from profiles.superoffice.tokens import (
    SignInRequired,
    superoffice_access_token_for_linked_user,
    superoffice_access_token_get,
)
from sandbox.testing import SandboxControl

ADMIN = "ingrid.haugen@nordlys-demo.example"  # administrator of Cust10001
MEMBER = "ola.berg@nordlys-demo.example"  # ordinary user of Cust10001
TWO_TENANTS = "lars.lund@konsulent.example"  # an associate in Cust10001 and Cust20002


@pytest.fixture
def superoffice(sandbox: SandboxControl) -> Iterator[SandboxControl]:
    with override_settings(SUPEROFFICE_ENVIRONMENT=sandbox.base_url):
        yield sandbox


@pytest.fixture
def browser(db: None) -> Client:
    # A loopback host: the sandbox accepts loopback redirect URIs at any port.
    return Client(HTTP_HOST="127.0.0.1")


def _authorize(browser: Client, *, email: str, tenant: str | None = None) -> requests.Response:
    """Start sign-in with us, then answer the sandbox's authorize step; returns its answer."""
    hints = {"login_hint": email, **({"acr_values": f"tenant:{tenant}"} if tenant else {})}
    query = urlencode({"auth_params": urlencode(hints)})
    start = browser.post(f"/accounts/superoffice/login/?{query}")
    assert start.status_code == 302, start.content
    return requests.get(start["Location"], allow_redirects=False, timeout=30)


def sign_in(browser: Client, *, email: str, tenant: str | None = None) -> object:
    answer = _authorize(browser, email=email, tenant=tenant)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == "/accounts/superoffice/login/callback/"
    return browser.get(f"{callback.path}?{callback.query}")


def _raw_access_token(user: User) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT access_token FROM {SuperOfficeToken._meta.db_table} WHERE user_id = %s",  # noqa: S608
            [user.pk],
        )
        value: str = cursor.fetchone()[0]
        return value


def test_an_administrator_signs_in_and_brings_the_tenant(
    superoffice: SandboxControl, browser: Client
) -> None:
    response = sign_in(browser, email=ADMIN)

    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == "/"  # type: ignore[index]
    tenant = Tenant.objects.get(context_identifier="Cust10001")
    assert tenant.name == "Nordlys Demo AS"
    assert tenant.webapi_url == f"{superoffice.base_url}/Cust10001/api/"
    assert tenant.environment == "custom"
    user = User.objects.get(tenant=tenant, associate_id=1)
    assert user.is_superoffice_admin
    assert user.email == ADMIN
    assert SocialAccount.objects.get(user=user).uid == "Cust10001:1"
    assert browser.get("/").context["user"] == user

    token = SuperOfficeToken.objects.get(user=user)
    assert token.access_token.startswith("8A:Cust10001.")
    assert token.refresh_token
    assert token.expires_at > timezone.now()
    raw = _raw_access_token(user)
    assert token.access_token not in raw
    assert "Cust10001" not in raw


def test_the_stored_token_reads_superoffice_and_refreshes(
    superoffice: SandboxControl, browser: Client
) -> None:
    sign_in(browser, email=ADMIN)
    user = User.objects.get(email=ADMIN)
    first = superoffice_access_token_get(user=user)

    def current_principal(access_token: str) -> requests.Response:
        return requests.get(
            f"{user.tenant.webapi_url}v1/User/currentPrincipal",  # type: ignore[union-attr]
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=30,
        )

    assert current_principal(first).json()["AssociateId"] == 1

    superoffice.expire_tokens()
    assert current_principal(first).status_code == 401
    SuperOfficeToken.objects.filter(user=user).update(expires_at=timezone.now())

    renewed = superoffice_access_token_get(user=user)

    assert renewed != first
    assert current_principal(renewed).status_code == 200
    assert SuperOfficeToken.objects.get(user=user).access_token == renewed


def test_a_member_of_an_unknown_tenant_is_told_to_ask_an_administrator(
    superoffice: SandboxControl, browser: Client
) -> None:
    response = sign_in(browser, email=MEMBER)

    assert response.status_code == 403  # type: ignore[attr-defined]
    assert b"not set up for your company yet" in response.content  # type: ignore[attr-defined]
    assert not Tenant.objects.exists()
    assert not User.objects.exists()


def test_a_member_signs_in_after_the_administrator_and_gets_their_links(
    superoffice: SandboxControl, browser: Client
) -> None:
    sign_in(browser, email=ADMIN)
    tenant = Tenant.objects.get()
    profile = profile_create(tenant=tenant, name="Mailboxes")
    waiting = linked_user_link(profile=profile, associate_id=2, email=MEMBER)
    with pytest.raises(SignInRequired, match="Waiting for sign-in"):
        superoffice_access_token_for_linked_user(linked_user=waiting)
    browser.logout()

    sign_in(browser, email=MEMBER)

    member = User.objects.get(email=MEMBER)
    assert not member.is_superoffice_admin
    waiting.refresh_from_db()
    assert waiting.user == member
    assert superoffice_access_token_for_linked_user(linked_user=waiting).startswith("8A:")
    assert list(browser.get("/").context["links"]) == [waiting]


def test_the_same_email_in_two_tenants_is_two_users(
    superoffice: SandboxControl, browser: Client
) -> None:
    sign_in(browser, email=ADMIN)
    sign_in(browser, email="astrid.svensson@fjallvind.example")
    browser.logout()

    sign_in(browser, email=TWO_TENANTS, tenant="Cust10001")
    browser.logout()
    sign_in(browser, email=TWO_TENANTS, tenant="Cust20002")

    users = User.objects.filter(email=TWO_TENANTS).order_by("tenant__context_identifier")
    assert [(u.tenant.context_identifier, u.associate_id) for u in users] == [  # type: ignore[union-attr]
        ("Cust10001", 5),
        ("Cust20002", 3),
    ]


def test_signing_in_again_updates_the_role_and_keeps_one_user(
    superoffice: SandboxControl, browser: Client
) -> None:
    sign_in(browser, email=ADMIN)
    User.objects.filter(email=ADMIN).update(is_superoffice_admin=False)
    browser.logout()

    sign_in(browser, email=ADMIN)

    assert User.objects.get(email=ADMIN).is_superoffice_admin
    assert User.objects.count() == 1
    assert SuperOfficeToken.objects.count() == 1


def test_revoked_consent_asks_the_user_to_sign_in_again(
    superoffice: SandboxControl, browser: Client
) -> None:
    sign_in(browser, email=ADMIN)
    user = User.objects.get(email=ADMIN)
    superoffice.revoke_consent(tenant="Cust10001", associate_id=1)

    with pytest.raises(SignInRequired, match="no longer accepts"):
        superoffice_access_token_get(user=user, force_refresh=True)

    token = SuperOfficeToken.objects.get(user=user)
    assert token.refresh_failed_at is not None
    page = browser.get("/")
    assert b"SuperOffice no longer accepts Synchronizer" in page.content
    # The next engine call does not even try: the state is clear until a new sign-in.
    with pytest.raises(SignInRequired):
        superoffice_access_token_get(user=user)

    browser.logout()
    sign_in(browser, email=ADMIN)

    assert SuperOfficeToken.objects.get(user=user).refresh_failed_at is None
    assert superoffice_access_token_get(user=user, force_refresh=True)


def test_refusing_consent_shows_what_happened(superoffice: SandboxControl, browser: Client) -> None:
    start = browser.post("/accounts/superoffice/login/")
    authorize = urlsplit(start["Location"])
    denied = requests.post(
        f"{superoffice.base_url}{authorize.path}?{authorize.query}",
        data={"deny": "1"},
        allow_redirects=False,
        timeout=30,
    )
    callback = urlsplit(denied.headers["Location"])

    response = browser.get(f"{callback.path}?{callback.query}", follow=True)

    assert b"You did not give consent" in response.content
    assert not User.objects.exists()


def test_login_page_offers_superoffice_only(browser: Client) -> None:
    page = browser.get("/accounts/login/")

    assert b"Login with SuperOffice" in page.content
    assert b'type="password"' not in page.content
    assert b"nothing to sign up for" in browser.get("/accounts/signup/").content
