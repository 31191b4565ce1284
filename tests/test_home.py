from __future__ import annotations

from django.test import Client

from profiles.models import LinkedUser, User


def test_anonymous_visitors_see_the_welcome(client: Client, db: None) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert b"Your SuperOffice contacts, in your mailbox" in response.content


def test_a_linked_user_sees_their_own_links_only(
    client: Client, bob: User, bob_link: LinkedUser, charlie_link: LinkedUser
) -> None:
    client.force_login(bob)

    response = client.get("/")

    assert list(response.context["links"]) == [bob_link]
    assert b"Acme mailboxes" in response.content
    assert b"Globex" not in response.content


def test_an_unlinked_user_is_told_why_nothing_happens(client: Client, charlie: User) -> None:
    client.force_login(charlie)

    response = client.get("/")

    assert b"no administrator has linked you" in response.content
