from __future__ import annotations

from django.test import Client
from django.utils import timezone

from profiles.models import LinkedUser, SuperOfficeToken, User


def test_anonymous_visitors_see_the_welcome(client: Client, db: None) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert b"Your SuperOffice contacts, in your mailbox" in response.content
    assert b"Login with SuperOffice" in response.content


def test_a_linked_user_sees_their_own_links_and_the_way_to_their_overview(
    client: Client, bob: User, bob_link: LinkedUser, charlie_link: LinkedUser
) -> None:
    client.force_login(bob)

    response = client.get("/")

    assert list(response.context["links"]) == [bob_link]
    content = response.content.decode()
    assert "Acme mailboxes" in content
    assert "Globex" not in content
    assert f'href="/links/{bob_link.code}/"' in content
    assert "Waiting for mailbox credentials that have been tested." in content
    assert 'href="/manage/"' not in content


def test_an_administrator_sees_their_links_and_the_admin_portal(
    client: Client, alice: User, alice_link: LinkedUser, charlie_link: LinkedUser
) -> None:
    client.force_login(alice)

    response = client.get("/")

    assert list(response.context["links"]) == [alice_link]
    assert b"Acme mailboxes" in response.content
    assert b"Globex" not in response.content
    assert b'href="/manage/"' in response.content
    assert b'href="/manage/status/"' in response.content


def test_a_user_whose_access_was_revoked_is_asked_to_sign_in_again(
    client: Client, bob: User, bob_link: LinkedUser
) -> None:
    SuperOfficeToken.objects.create(
        user=bob,
        access_token="a",
        expires_at=timezone.now(),
        refresh_failed_at=timezone.now(),
        refresh_error="SuperOffice refused the refresh: consent was revoked.",
    )
    client.force_login(bob)

    response = client.get("/")

    assert response.status_code == 200
    assert b"consent was revoked" in response.content
    assert b"Login with SuperOffice" in response.content


def test_an_unlinked_user_is_told_why_nothing_happens(client: Client, charlie: User) -> None:
    client.force_login(charlie)

    response = client.get("/")

    assert b"no administrator has linked you" in response.content
