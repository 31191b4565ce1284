"""A profile's mailbox system (profiles/views.py): CardDAV or Microsoft 365, Google shown as
coming later; a change that would orphan synced contacts is refused. alice administers
Acme, bob is a member of Acme (403), charlie administers Globex (404)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import (
    LinkedUser,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
    TargetKind,
    User,
)
from syncengine.models import PersonMapping
from tests.portals.pages import messages_of

Login = Callable[[User], Client]


@pytest.fixture(autouse=True)
def microsoft_offered(settings: SettingsWrapper) -> None:
    settings.MICROSOFT_CLIENT_ID = "synchronizer-test"
    settings.MICROSOFT_CLIENT_SECRET = "secret"


class TestProfileNewWithASystem:
    def test_a_microsoft_profile_gets_its_connection(self, login: Login, alice: User) -> None:
        response = login(alice).post(
            "/manage/profiles/new/",
            {"name": "Oslo 365", "target_kind": "graph", "carddav_url": "https://typed.example/"},
            follow=True,
        )

        profile = SyncProfile.objects.get(tenant=alice.tenant)
        assert profile.target_kind == TargetKind.MICROSOFT_GRAPH
        assert profile.carddav_url == ""
        assert MicrosoftConnection.objects.get(profile=profile).folder_name == "SuperOffice"
        assert any("connect its Microsoft 365 organisation" in m for m in messages_of(response))
        assert b"Connect Microsoft 365 organisation" in response.content

    def test_the_form_offers_the_systems(self, login: Login, alice: User) -> None:
        content = login(alice).get("/manage/profiles/new/").content.decode()

        assert 'value="carddav"' in content
        assert 'value="graph"' in content
        assert 'value="google" id="id_target_kind_2" disabled' in content
        assert "coming in a later version" in content

    def test_google_is_refused(self, login: Login, alice: User) -> None:
        response = login(alice).post(
            "/manage/profiles/new/", {"name": "Mail", "target_kind": "google"}
        )

        assert b"Google Contacts is coming in a later version." in response.content
        assert not SyncProfile.objects.exists()

    def test_microsoft_is_refused_where_the_app_is_not_registered(
        self, login: Login, alice: User, settings: SettingsWrapper
    ) -> None:
        settings.MICROSOFT_CLIENT_SECRET = ""
        client = login(alice)

        assert (
            'value="graph" id="id_target_kind_1" disabled'
            in client.get("/manage/profiles/new/").content.decode()
        )
        response = client.post("/manage/profiles/new/", {"name": "Mail", "target_kind": "graph"})

        assert b"Microsoft 365 is not set up on this Synchronizer yet" in response.content
        assert not SyncProfile.objects.exists()

    def test_an_unknown_system_is_refused(self, login: Login, alice: User) -> None:
        response = login(alice).post("/manage/profiles/new/", {"name": "M", "target_kind": "x"})

        assert b"Select a valid choice" in response.content
        assert not SyncProfile.objects.exists()

    def test_it_requires_administrator_rights(self, login: Login, bob: User) -> None:
        response = login(bob).post("/manage/profiles/new/", {"name": "M", "target_kind": "graph"})

        assert response.status_code == 403
        assert not SyncProfile.objects.exists()


class TestSystemChange:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/"

    def test_a_profile_nobody_synced_with_changes_system(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        TargetAccount.objects.create(linked_user=bob_link, username="bob", secret="untested")

        response = login(alice).post(
            self.url(acme_profile), {"name": "Acme", "target_kind": "graph"}, follow=True
        )

        acme_profile.refresh_from_db()
        assert acme_profile.target_kind == TargetKind.MICROSOFT_GRAPH
        assert acme_profile.carddav_url == "http://127.0.0.1:5232/"
        assert MicrosoftConnection.objects.filter(profile=acme_profile).exists()
        # The untested CardDAV password means nothing to Microsoft 365.
        assert not TargetAccount.objects.filter(linked_user=bob_link).exists()
        assert "The profile was saved." in messages_of(response)

    def test_a_profile_with_a_connected_mailbox_keeps_its_system(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        TargetAccount.objects.create(
            linked_user=bob_link, username="bob", secret="pw", verified_at=timezone.now()
        )

        response = login(alice).post(
            self.url(acme_profile), {"name": "Renamed", "target_kind": "graph"}
        )

        assert response.status_code == 200
        assert b"would orphan every contact" in response.content
        assert b"1 of this profile" in response.content
        acme_profile.refresh_from_db()
        assert (acme_profile.name, acme_profile.target_kind) == ("Acme mailboxes", "carddav")
        assert not MicrosoftConnection.objects.filter(profile=acme_profile).exists()

    def test_a_deleted_user_with_synced_contacts_counts_too(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        PersonMapping.objects.create(
            linked_user=bob_link, person_id=7, target_uid="u-7", target_ref="/x/7.vcf"
        )
        bob_link.soft_delete()

        response = login(alice).post(self.url(acme_profile), {"name": "A", "target_kind": "graph"})

        assert b"would orphan every contact" in response.content
        acme_profile.refresh_from_db()
        assert acme_profile.target_kind == TargetKind.CARDDAV

    def test_leaving_the_system_out_keeps_it(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        TargetAccount.objects.create(
            linked_user=bob_link, username="bob", secret="pw", verified_at=timezone.now()
        )

        login(alice).post(self.url(acme_profile), {"name": "Renamed", "carddav_url": ""})

        acme_profile.refresh_from_db()
        assert (acme_profile.name, acme_profile.target_kind) == ("Renamed", "carddav")

    def test_the_manage_page_shows_the_microsoft_section(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        login(alice).post(self.url(acme_profile), {"name": "Acme", "target_kind": "graph"})

        response = login(alice).get(self.url(acme_profile))

        assert b"Connect Microsoft 365 organisation" in response.content
        assert b'name="folder_name" id="id_folder_name" value="SuperOffice"' in response.content

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        response = login(bob).post(self.url(acme_profile), {"name": "A", "target_kind": "graph"})

        assert response.status_code == 403
        acme_profile.refresh_from_db()
        assert acme_profile.target_kind == TargetKind.CARDDAV

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        response = login(charlie).post(
            self.url(acme_profile), {"name": "A", "target_kind": "graph"}
        )

        assert response.status_code == 404
        acme_profile.refresh_from_db()
        assert acme_profile.target_kind == TargetKind.CARDDAV
