"""The admin portal's profile pages (profiles/views.py): alice administers Acme, bob is a
member of Acme without administrator rights (403), charlie administers Globex (404)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from profiles.models import LinkedUser, SyncProfile, User
from profiles.services import linked_user_link, profile_delete

Login = Callable[[User], Client]


def messages_of(response: object) -> list[str]:
    return [str(message) for message in response.context["messages"]]  # type: ignore[attr-defined]


# --- the profile list --------------------------------------------------------------------


class TestProfileList:
    def test_it_lists_the_tenants_profiles(
        self, login: Login, alice: User, acme_profile: SyncProfile, globex_profile: SyncProfile
    ) -> None:
        response = login(alice).get("/manage/")

        assert response.status_code == 200
        assert list(response.context["profiles"]) == [acme_profile]
        assert b"Manage Profile" in response.content
        assert b"Globex" not in response.content

    def test_deleted_profiles_show_on_request(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        profile_delete(profile=acme_profile)
        client = login(alice)

        assert list(client.get("/manage/").context["profiles"]) == []
        response = client.get("/manage/?deleted=1")
        assert list(response.context["profiles"]) == [acme_profile]
        assert b"Un-delete" in response.content
        assert b"Delete permanently" in response.content

    def test_an_empty_tenant_is_invited_to_create_one(self, login: Login, alice: User) -> None:
        response = login(alice).get("/manage/")

        assert b"Create a new synchronization profile" in response.content

    def test_it_requires_administrator_rights(self, login: Login, bob: User) -> None:
        assert login(bob).get("/manage/").status_code == 403

    def test_another_tenants_admin_sees_only_their_own(
        self, login: Login, charlie: User, acme_profile: SyncProfile, globex_profile: SyncProfile
    ) -> None:
        response = login(charlie).get("/manage/")

        assert list(response.context["profiles"]) == [globex_profile]
        assert b"Acme mailboxes" not in response.content

    def test_it_requires_login(self, client: Client, db: None) -> None:
        response = client.get("/manage/")

        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


# --- creating a profile ------------------------------------------------------------------


class TestProfileNew:
    def test_it_creates_a_profile(self, login: Login, alice: User) -> None:
        response = login(alice).post(
            "/manage/profiles/new/",
            {"name": " Oslo office ", "carddav_url": "https://dav.example.com/"},
            follow=True,
        )

        profile = SyncProfile.objects.get(tenant=alice.tenant)
        assert profile.name == "Oslo office"
        assert profile.carddav_url == "https://dav.example.com/"
        assert response.redirect_chain[-1][0] == f"/manage/profiles/{profile.code}/"
        assert any("was created" in message for message in messages_of(response))

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            ({"name": "", "carddav_url": ""}, b"This field is required"),
            ({"name": "   ", "carddav_url": ""}, b"This field is required"),
            ({"name": "Oslo", "carddav_url": "not a url"}, b"Enter a valid URL"),
            ({"name": "x" * 101, "carddav_url": ""}, b"at most 100 characters"),
        ],
    )
    def test_bad_input_creates_nothing(
        self, login: Login, alice: User, data: dict[str, str], problem: bytes
    ) -> None:
        response = login(alice).post("/manage/profiles/new/", data)

        assert response.status_code == 200
        assert problem in response.content
        assert not SyncProfile.objects.exists()

    def test_it_requires_administrator_rights(self, login: Login, bob: User) -> None:
        response = login(bob).post("/manage/profiles/new/", {"name": "Mine"})

        assert response.status_code == 403
        assert not SyncProfile.objects.exists()

    def test_it_requires_login(self, client: Client, db: None) -> None:
        response = client.post("/manage/profiles/new/", {"name": "Mine"})

        assert response.status_code == 302
        assert not SyncProfile.objects.exists()


# --- Manage Profile ---------------------------------------------------------------------


class TestProfileManage:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/"

    def test_it_shows_the_profile_and_its_steps(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        response = login(alice).get(self.url(acme_profile))

        assert response.status_code == 200
        assert b"Manage Profile: Acme mailboxes" in response.content
        assert b"Customize system" in response.content
        assert b"Link Users (1)" in response.content
        assert b'value="http://127.0.0.1:5232/"' in response.content

    def test_it_saves_the_carddav_server(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).post(
            self.url(acme_profile),
            {"name": "Acme", "carddav_url": "https://dav.acme.example/"},
            follow=True,
        )

        acme_profile.refresh_from_db()
        assert acme_profile.carddav_url == "https://dav.acme.example/"
        assert acme_profile.name == "Acme"
        assert "The profile was saved." in messages_of(response)

    def test_bad_input_changes_nothing(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).post(self.url(acme_profile), {"name": "", "carddav_url": "ftp:x"})

        assert response.status_code == 200
        assert b"Enter a valid URL" in response.content
        acme_profile.refresh_from_db()
        assert (acme_profile.name, acme_profile.carddav_url) == (
            "Acme mailboxes",
            "http://127.0.0.1:5232/",
        )

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        assert login(bob).get(self.url(acme_profile)).status_code == 403
        response = login(bob).post(self.url(acme_profile), {"name": "Bob's", "carddav_url": ""})
        assert response.status_code == 403
        acme_profile.refresh_from_db()
        assert acme_profile.name == "Acme mailboxes"

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        assert login(charlie).get(self.url(acme_profile)).status_code == 404

    def test_a_deleted_profile_is_not_managed(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        profile_delete(profile=acme_profile)

        assert login(alice).get(self.url(acme_profile)).status_code == 404

    def test_it_requires_login(self, client: Client, acme_profile: SyncProfile) -> None:
        assert client.get(self.url(acme_profile)).status_code == 302


class TestCustomizeSystem:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/customize/"

    def test_show_settings_next_to_superoffice_leads_to_person_synchronization(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).get(self.url(acme_profile))

        assert response.status_code == 200
        target = (
            f"/manage/profiles/{acme_profile.code}/customize/superoffice/person-synchronization/"
        )
        assert target.encode() in response.content
        assert b"Show Settings" in response.content
        assert b'aria-current="page">Customize system' in response.content

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        assert login(bob).get(self.url(acme_profile)).status_code == 403

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        assert login(charlie).get(self.url(acme_profile)).status_code == 404

    def test_it_requires_login(self, client: Client, acme_profile: SyncProfile) -> None:
        assert client.get(self.url(acme_profile)).status_code == 302


# --- deleting -----------------------------------------------------------------------------


class TestProfileDelete:
    def test_it_deletes_softly(self, login: Login, alice: User, acme_profile: SyncProfile) -> None:
        response = login(alice).post(f"/manage/profiles/{acme_profile.code}/delete/", follow=True)

        acme_profile.refresh_from_db()
        assert acme_profile.is_deleted
        assert any("was deleted" in message for message in messages_of(response))

    def test_it_only_takes_post(self, login: Login, alice: User, acme_profile: SyncProfile) -> None:
        assert login(alice).get(f"/manage/profiles/{acme_profile.code}/delete/").status_code == 405
        acme_profile.refresh_from_db()
        assert not acme_profile.is_deleted

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        response = login(bob).post(f"/manage/profiles/{acme_profile.code}/delete/")

        assert response.status_code == 403
        acme_profile.refresh_from_db()
        assert not acme_profile.is_deleted

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        response = login(charlie).post(f"/manage/profiles/{acme_profile.code}/delete/")

        assert response.status_code == 404
        acme_profile.refresh_from_db()
        assert not acme_profile.is_deleted

    def test_csrf_is_required(self, alice: User, acme_profile: SyncProfile) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)

        response = client.post(f"/manage/profiles/{acme_profile.code}/delete/")

        assert response.status_code == 403
        acme_profile.refresh_from_db()
        assert not acme_profile.is_deleted


class TestProfileUndelete:
    def test_it_restores(self, login: Login, alice: User, acme_profile: SyncProfile) -> None:
        profile_delete(profile=acme_profile)

        response = login(alice).post(f"/manage/profiles/{acme_profile.code}/undelete/")

        assert response.status_code == 302
        acme_profile.refresh_from_db()
        assert not acme_profile.is_deleted

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        profile_delete(profile=acme_profile)

        assert login(bob).post(f"/manage/profiles/{acme_profile.code}/undelete/").status_code == 403
        acme_profile.refresh_from_db()
        assert acme_profile.is_deleted

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        profile_delete(profile=acme_profile)

        response = login(charlie).post(f"/manage/profiles/{acme_profile.code}/undelete/")

        assert response.status_code == 404
        acme_profile.refresh_from_db()
        assert acme_profile.is_deleted


class TestProfileDeletePermanently:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/delete-permanently/"

    def test_typing_the_name_deletes_it_with_its_links(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        profile_delete(profile=acme_profile)
        client = login(alice)
        assert b"Type the profile" in client.get(self.url(acme_profile)).content

        response = client.post(self.url(acme_profile), {"confirm_name": "Acme mailboxes"})

        assert response.status_code == 302
        assert not SyncProfile.objects.filter(pk=acme_profile.pk).exists()
        assert not LinkedUser.objects.filter(pk=bob_link.pk).exists()

    @pytest.mark.parametrize("typed", ["", "acme mailboxes", "Acme"])
    def test_a_wrong_name_deletes_nothing(
        self, login: Login, alice: User, acme_profile: SyncProfile, typed: str
    ) -> None:
        profile_delete(profile=acme_profile)

        response = login(alice).post(self.url(acme_profile), {"confirm_name": typed})

        assert response.status_code == 200
        assert response.context["form"].errors
        assert SyncProfile.objects.filter(pk=acme_profile.pk).exists()

    def test_a_live_profile_must_be_deleted_first(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).post(
            self.url(acme_profile), {"confirm_name": "Acme mailboxes"}, follow=True
        )

        assert SyncProfile.objects.filter(pk=acme_profile.pk).exists()
        assert any("Delete the profile first" in message for message in messages_of(response))

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        profile_delete(profile=acme_profile)

        response = login(bob).post(self.url(acme_profile), {"confirm_name": "Acme mailboxes"})

        assert response.status_code == 403
        assert SyncProfile.objects.filter(pk=acme_profile.pk).exists()

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        profile_delete(profile=acme_profile)

        response = login(charlie).post(self.url(acme_profile), {"confirm_name": "Acme mailboxes"})

        assert response.status_code == 404
        assert SyncProfile.objects.filter(pk=acme_profile.pk).exists()

    def test_it_requires_login(self, client: Client, acme_profile: SyncProfile) -> None:
        profile_delete(profile=acme_profile)

        assert (
            client.post(self.url(acme_profile), {"confirm_name": "Acme mailboxes"}).status_code
            == 302
        )
        assert SyncProfile.objects.filter(pk=acme_profile.pk).exists()


# --- a linked user's actions ----------------------------------------------------------------


class TestLinkActions:
    def test_disable_and_enable(self, login: Login, alice: User, bob_link: LinkedUser) -> None:
        client = login(alice)

        response = client.post(f"/manage/links/{bob_link.code}/disable/", follow=True)
        bob_link.refresh_from_db()
        assert not bob_link.is_enabled
        assert any("is disabled" in message for message in messages_of(response))

        client.post(f"/manage/links/{bob_link.code}/enable/")
        bob_link.refresh_from_db()
        assert bob_link.is_enabled

    def test_delete_and_undelete(self, login: Login, alice: User, bob_link: LinkedUser) -> None:
        client = login(alice)

        response = client.post(f"/manage/links/{bob_link.code}/delete/")
        assert response["Location"] == f"/manage/profiles/{bob_link.profile.code}/link-users/"
        bob_link.refresh_from_db()
        assert bob_link.is_deleted

        client.post(f"/manage/links/{bob_link.code}/undelete/")
        bob_link.refresh_from_db()
        assert not bob_link.is_deleted

    def test_undelete_refuses_a_clash_and_says_why(
        self, login: Login, alice: User, bob_link: LinkedUser, acme_profile: SyncProfile
    ) -> None:
        bob_link.soft_delete()
        linked_user_link(profile=acme_profile, associate_id=2, email="bob@acme.example")

        response = login(alice).post(f"/manage/links/{bob_link.code}/undelete/", follow=True)

        bob_link.refresh_from_db()
        assert bob_link.is_deleted
        assert any("cannot be restored" in message for message in messages_of(response))

    @pytest.mark.parametrize("action", ["disable", "delete"])
    def test_member_gets_403_even_for_their_own_link(
        self, login: Login, bob: User, bob_link: LinkedUser, action: str
    ) -> None:
        response = login(bob).post(f"/manage/links/{bob_link.code}/{action}/")

        assert response.status_code == 403
        bob_link.refresh_from_db()
        assert bob_link.is_enabled
        assert not bob_link.is_deleted

    @pytest.mark.parametrize("action", ["disable", "enable", "delete", "undelete"])
    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, bob_link: LinkedUser, action: str
    ) -> None:
        response = login(charlie).post(f"/manage/links/{bob_link.code}/{action}/")

        assert response.status_code == 404
        bob_link.refresh_from_db()
        assert bob_link.is_enabled
        assert not bob_link.is_deleted

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        assert client.post(f"/manage/links/{bob_link.code}/disable/").status_code == 302
        bob_link.refresh_from_db()
        assert bob_link.is_enabled
