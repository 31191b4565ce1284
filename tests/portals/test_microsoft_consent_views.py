"""Connecting a Microsoft 365 organisation from the profile page (admin consent, then the
administrator's sign-in that confirms the organisation), against the Microsoft 365
stand-in: alice administers Acme, bob is a member of Acme (403), charlie administers
Globex (404)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import SettingsWrapper

from profiles.models import (
    LinkedUser,
    MicrosoftAccess,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
    Tenant,
    User,
)
from sandbox.microsoft.testing import MicrosoftControl
from syncengine.microsoft_views import CONSENT_SESSION_KEY, SIGN_IN_SESSION_KEY
from tests.portals.microsoft_pages import (
    HOST,
    Login,
    come_back,
    microsoft_press,
    microsoft_profile,
    query_of,
    sent_on,
)
from tests.portals.pages import messages_of

DIRECTORY = "3f6b1c9e-8a7d-4e21-9b55-0c2d4e6f8a10"


@pytest.fixture
def acme_365(acme: Tenant) -> SyncProfile:
    return microsoft_profile(acme, "Acme 365")


def organisation(microsoft: MicrosoftControl, name: str, admin: str) -> dict[str, Any]:
    """A Microsoft 365 organisation with an administrator who can consent."""
    domain = f"{name.lower()}.example"
    directory_id = microsoft.directory_create(name=name, domain=domain)
    user = microsoft.user_create(
        directory_id=directory_id, display_name=admin, mail=f"{admin.split()[0].lower()}@{domain}",
        is_admin=True,
    )  # fmt: skip
    return {"id": directory_id, "admin": user["id"]}


@pytest.fixture
def contoso(microsoft: MicrosoftControl, microsoft_settings: None) -> dict[str, Any]:
    """Acme's organisation (Django's settings point at the stand-in)."""
    return organisation(microsoft, "Contoso", "Adele Vance")


@pytest.fixture
def fabrikam(microsoft: MicrosoftControl, microsoft_settings: None) -> dict[str, Any]:
    """Another customer's organisation, which consented to the app for its own profile."""
    found = organisation(microsoft, "Fabrikam", "Frida Lund")
    microsoft.consent_set(directory_id=found["id"], granted=True)
    return found


def connect_url(profile: SyncProfile) -> str:
    return f"/manage/profiles/{profile.code}/microsoft/connect/"


def setting_url(profile: SyncProfile, setting: str = "folder") -> str:
    return f"/manage/profiles/{profile.code}/microsoft/{setting}/"


def consent_started(client: Client, profile: SyncProfile) -> None:
    """As if the connection of `profile` had been started here, with the state "s"."""
    session = client.session
    session[CONSENT_SESSION_KEY] = {"profile": str(profile.code), "state": "s"}
    session.save()


def start(client: Client, profile: SyncProfile) -> str:
    response = client.post(connect_url(profile), HTTP_HOST=HOST)
    assert response.status_code == 302
    return str(response["Location"])


def consented(client: Client, profile: SyncProfile, admin: str) -> str:
    """The administrator accepted on Microsoft's consent page and came back: where
    Synchronizer sends them on to sign in."""
    return sent_on(client, microsoft_press(start(client, profile), user_id=admin))


def elsewhere(sign_in_page: str, directory_id: str) -> str:
    """The same sign-in (state, PKCE and all), but on another directory's sign-in page."""
    consenting = urlsplit(sign_in_page).path.split("/")[1]
    return sign_in_page.replace(f"/{consenting}/", f"/{directory_id}/", 1)


def unconnected(profile: SyncProfile) -> bool:
    connection = MicrosoftConnection.objects.get(profile=profile)
    return (connection.directory_id, connection.consented_at) == ("", None)


class TestConnectOrganisation:
    def test_consent_then_the_administrators_sign_in_connects_the_organisation(
        self, login: Login, alice: User, acme_365: SyncProfile, contoso: dict[str, Any]
    ) -> None:
        client = login(alice)
        consent_page = start(client, acme_365)
        query = parse_qs(urlsplit(consent_page).query)
        assert "/adminconsent" in consent_page
        assert query["redirect_uri"] == [f"http://{HOST}/manage/microsoft/consent/"]
        assert query["state"] == [client.session[CONSENT_SESSION_KEY]["state"]]

        sign_in_page = sent_on(client, microsoft_press(consent_page, user_id=contoso["admin"]))

        # Microsoft's consent answer alone stores nothing: the administrator signs in to the
        # organisation it names, asked for nothing but who they are.
        assert unconnected(acme_365)
        assert urlsplit(sign_in_page).path == f"/{contoso['id']}/oauth2/v2.0/authorize"
        sign_in = query_of(sign_in_page)
        assert sign_in["redirect_uri"] == f"http://{HOST}/manage/microsoft/sign-in/"
        assert set(sign_in["scope"].split()) == {"User.Read", "openid", "profile", "offline_access"}
        assert CONSENT_SESSION_KEY not in client.session

        response = come_back(client, microsoft_press(sign_in_page, user_id=contoso["admin"]))

        connection = MicrosoftConnection.objects.get(profile=acme_365)
        assert connection.directory_id == contoso["id"]
        assert connection.consented_by == alice
        assert connection.consented_at is not None
        assert connection.is_connected
        assert response.redirect_chain[-1][0] == f"/manage/profiles/{acme_365.code}/#microsoft"
        assert any("Microsoft 365 is connected" in m for m in messages_of(response))
        assert contoso["id"].encode() in response.content
        assert SIGN_IN_SESSION_KEY not in client.session

    def test_a_forged_organisation_in_the_consent_answer_is_not_taken(
        self,
        login: Login,
        alice: User,
        acme_365: SyncProfile,
        contoso: dict[str, Any],
        fabrikam: dict[str, Any],
    ) -> None:
        client = login(alice)
        answer = microsoft_press(start(client, acme_365), user_id=contoso["admin"])
        forged = answer.replace(f"tenant={contoso['id']}", f"tenant={fabrikam['id']}")
        assert forged != answer

        sign_in_page = sent_on(client, forged)

        # Nothing is stored; only Fabrikam's own people could sign in on its page.
        assert unconnected(acme_365)
        assert urlsplit(sign_in_page).path == f"/{fabrikam['id']}/oauth2/v2.0/authorize"
        # Acme's administrator signs in with their own account instead: refused.
        location = microsoft_press(elsewhere(sign_in_page, contoso["id"]), user_id=contoso["admin"])

        response = come_back(client, location)

        assert unconnected(acme_365)
        assert messages_of(response) == [
            "Microsoft 365 was not connected: adele@contoso.example belongs to the Microsoft "
            f"365 organisation {contoso['id']}, but consent was given for {fabrikam['id']}. "
            "Sign in as an administrator of the organisation that gave consent. Nothing was "
            "changed."
        ]
        assert response.redirect_chain[-1][0] == f"/manage/profiles/{acme_365.code}/#microsoft"
        assert SIGN_IN_SESSION_KEY not in client.session

    def test_a_sign_in_in_another_organisation_than_the_consenting_one_is_refused(
        self,
        login: Login,
        alice: User,
        acme_365: SyncProfile,
        contoso: dict[str, Any],
        fabrikam: dict[str, Any],
    ) -> None:
        client = login(alice)
        sign_in_page = consented(client, acme_365, contoso["admin"])
        location = microsoft_press(
            elsewhere(sign_in_page, fabrikam["id"]), user_id=fabrikam["admin"]
        )

        response = come_back(client, location)

        assert unconnected(acme_365)
        assert f"but consent was given for {contoso['id']}" in messages_of(response)[0]

    def test_an_organisation_connected_for_another_customer_is_refused(
        self,
        login: Login,
        alice: User,
        acme_365: SyncProfile,
        contoso: dict[str, Any],
        globex: Tenant,
    ) -> None:
        MicrosoftConnection.objects.filter(profile=microsoft_profile(globex, "Globex 365")).update(
            directory_id=contoso["id"], consented_at=timezone.now()
        )
        client = login(alice)
        sign_in_page = consented(client, acme_365, contoso["admin"])

        response = come_back(client, microsoft_press(sign_in_page, user_id=contoso["admin"]))

        assert unconnected(acme_365)
        assert messages_of(response) == [
            f"Microsoft 365 was not connected: the Microsoft 365 organisation {contoso['id']} "
            "is connected elsewhere already, to a profile of another SuperOffice customer, so "
            "it cannot be connected here. Nothing was changed."
        ]

    def test_an_organisation_of_another_profile_of_the_same_customer_is_fine(
        self,
        login: Login,
        alice: User,
        acme: Tenant,
        acme_365: SyncProfile,
        contoso: dict[str, Any],
    ) -> None:
        MicrosoftConnection.objects.filter(profile=microsoft_profile(acme, "Acme sales")).update(
            directory_id=contoso["id"], consented_at=timezone.now()
        )
        client = login(alice)
        sign_in_page = consented(client, acme_365, contoso["admin"])

        come_back(client, microsoft_press(sign_in_page, user_id=contoso["admin"]))

        assert MicrosoftConnection.objects.get(profile=acme_365).directory_id == contoso["id"]

    def test_a_cancelled_sign_in_changes_nothing(
        self, login: Login, alice: User, acme_365: SyncProfile, contoso: dict[str, Any]
    ) -> None:
        client = login(alice)
        sign_in_page = consented(client, acme_365, contoso["admin"])

        response = come_back(client, microsoft_press(sign_in_page))

        assert unconnected(acme_365)
        assert messages_of(response) == [
            "Microsoft 365 was not connected: the administrator cancelled the sign-in that "
            "confirms the organisation. Nothing was changed."
        ]

    def test_a_sign_in_answer_of_another_sign_in_is_refused(
        self, login: Login, alice: User, acme_365: SyncProfile, contoso: dict[str, Any]
    ) -> None:
        client = login(alice)
        location = microsoft_press(
            consented(client, acme_365, contoso["admin"]), user_id=contoso["admin"]
        )

        response = come_back(client, location.replace("state=", "state=x"))

        assert unconnected(acme_365)
        assert "does not belong to the sign-in started here" in messages_of(response)[0]

    def test_a_sign_in_answer_without_a_sign_in_started_is_refused(
        self, login: Login, alice: User, acme_365: SyncProfile
    ) -> None:
        response = login(alice).get("/manage/microsoft/sign-in/?code=x&state=y", follow=True)

        assert unconnected(acme_365)
        assert "No connection to Microsoft 365 was started" in messages_of(response)[0]

    def test_an_organisation_unknown_to_microsoft_is_said_in_words(
        self, login: Login, alice: User, acme_365: SyncProfile, contoso: dict[str, Any]
    ) -> None:
        client = login(alice)
        answer = microsoft_press(start(client, acme_365), user_id=contoso["admin"])

        response = come_back(client, answer.replace(contoso["id"], DIRECTORY))

        assert unconnected(acme_365)
        assert messages_of(response)[0].startswith(
            f"Microsoft 365 was not connected: the organisation {DIRECTORY} could not be "
            "confirmed: "
        )

    def test_consent_declined_changes_nothing(
        self, login: Login, alice: User, acme_365: SyncProfile, contoso: dict[str, Any]
    ) -> None:
        client = login(alice)

        response = come_back(client, microsoft_press(start(client, acme_365)))

        connection = MicrosoftConnection.objects.get(profile=acme_365)
        assert (connection.directory_id, connection.consented_at) == ("", None)
        assert messages_of(response) == [
            "Microsoft 365 was not connected: the administrator declined the permissions on "
            "Microsoft's page. Nothing was changed."
        ]

    def test_a_foreign_state_is_refused(
        self, login: Login, alice: User, acme_365: SyncProfile, contoso: dict[str, Any]
    ) -> None:
        client = login(alice)
        location = microsoft_press(start(client, acme_365), user_id=contoso["admin"])
        forged = location.replace("state=", "state=x")

        response = come_back(client, forged)

        assert not MicrosoftConnection.objects.get(profile=acme_365).directory_id
        assert "its state differs" in messages_of(response)[0]

    def test_an_answer_without_a_connection_started_is_refused(
        self, login: Login, alice: User, acme_365: SyncProfile
    ) -> None:
        response = login(alice).get(
            f"/manage/microsoft/consent/?admin_consent=True&tenant={DIRECTORY}&state=s",
            follow=True,
        )

        assert not MicrosoftConnection.objects.get(profile=acme_365).directory_id
        assert "No connection to Microsoft 365 was started" in messages_of(response)[0]

    def test_an_answer_without_an_organisation_is_refused(
        self, login: Login, alice: User, acme_365: SyncProfile
    ) -> None:
        client = login(alice)
        consent_started(client, acme_365)

        response = client.get(
            "/manage/microsoft/consent/?admin_consent=True&tenant=../evil&state=s", follow=True
        )

        assert not MicrosoftConnection.objects.get(profile=acme_365).directory_id
        assert "nothing was changed" in messages_of(response)[0]

    def test_another_organisation_is_refused_once_mailboxes_are_linked(
        self, login: Login, alice: User, acme_365: SyncProfile, bob_link: LinkedUser
    ) -> None:
        MicrosoftConnection.objects.filter(profile=acme_365).update(
            directory_id=DIRECTORY, consented_at=timezone.now()
        )
        bob_link.profile = acme_365
        bob_link.save()
        TargetAccount.objects.create(linked_user=bob_link, remote_user_id="u-1")
        client = login(alice)
        consent_started(client, acme_365)
        other = "0a0a0a0a-1b1b-2c2c-3d3d-4e4e4e4e4e4e"

        response = client.get(
            f"/manage/microsoft/consent/?admin_consent=True&tenant={other}&state=s", follow=True
        )

        assert MicrosoftConnection.objects.get(profile=acme_365).directory_id == DIRECTORY
        assert "consent was given for " + other in messages_of(response)[0]

    def test_consent_again_clears_a_lost_consent(
        self, login: Login, alice: User, acme_365: SyncProfile, contoso: dict[str, Any]
    ) -> None:
        MicrosoftConnection.objects.filter(profile=acme_365).update(
            directory_id=contoso["id"],
            consented_at=timezone.now(),
            failure="Microsoft 365 refused Synchronizer's access to the organisation.",
            failed_at=timezone.now(),
        )
        client = login(alice)
        page = client.get(f"/manage/profiles/{acme_365.code}/")
        assert b"stopped accepting the organisation's connection" in page.content
        assert b"Connect again" in page.content

        come_back(client, microsoft_press(start(client, acme_365), user_id=contoso["admin"]))

        connection = MicrosoftConnection.objects.get(profile=acme_365)
        assert (connection.failure, connection.failed_at) == ("", None)
        assert connection.is_connected

    def test_microsoft_not_configured_is_said_in_words(
        self, login: Login, alice: User, acme_365: SyncProfile, settings: SettingsWrapper
    ) -> None:
        settings.MICROSOFT_CLIENT_SECRET = ""

        response = login(alice).post(connect_url(acme_365), HTTP_HOST=HOST, follow=True)

        assert "Microsoft 365 is not set up on this Synchronizer" in messages_of(response)[0]

    def test_microsoft_unreachable_is_said_in_words(
        self,
        login: Login,
        alice: User,
        acme_365: SyncProfile,
        microsoft_settings: None,
        settings: SettingsWrapper,
    ) -> None:
        settings.MICROSOFT_LOGIN_URL = "https://127.0.0.1:9"

        response = login(alice).post(connect_url(acme_365), HTTP_HOST=HOST, follow=True)

        assert response.status_code == 200
        assert "could not be reached" in messages_of(response)[0]

    def test_a_carddav_profile_has_no_organisation(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).post(connect_url(acme_profile), follow=True)

        assert "not to Microsoft 365" in messages_of(response)[0]
        assert not MicrosoftConnection.objects.filter(profile=acme_profile).exists()

    def test_it_only_takes_post(self, login: Login, alice: User, acme_365: SyncProfile) -> None:
        assert login(alice).get(connect_url(acme_365)).status_code == 405

    def test_member_gets_403(self, login: Login, bob: User, acme_365: SyncProfile) -> None:
        assert login(bob).post(connect_url(acme_365)).status_code == 403

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_365: SyncProfile
    ) -> None:
        assert login(charlie).post(connect_url(acme_365)).status_code == 404

    def test_a_callback_for_another_tenants_profile_gets_404(
        self, login: Login, charlie: User, acme_365: SyncProfile
    ) -> None:
        client = login(charlie)
        consent_started(client, acme_365)

        response = client.get(
            f"/manage/microsoft/consent/?admin_consent=True&tenant={DIRECTORY}&state=s"
        )

        assert response.status_code == 404
        assert not MicrosoftConnection.objects.get(profile=acme_365).directory_id

    def test_a_sign_in_for_another_tenants_profile_gets_404(
        self, login: Login, charlie: User, acme_365: SyncProfile
    ) -> None:
        client = login(charlie)
        session = client.session
        session[SIGN_IN_SESSION_KEY] = {"profile": str(acme_365.code), "directory": DIRECTORY}
        session.save()

        response = client.get("/manage/microsoft/sign-in/?code=x&state=y")

        assert response.status_code == 404
        assert unconnected(acme_365)

    def test_it_requires_login(self, client: Client, acme_365: SyncProfile) -> None:
        assert client.post(connect_url(acme_365)).status_code == 302
        assert client.get("/manage/microsoft/consent/").status_code == 302
        assert client.get("/manage/microsoft/sign-in/").status_code == 302


class TestFolderAndAccess:
    def test_the_folder_is_renamed(self, login: Login, alice: User, acme_365: SyncProfile) -> None:
        response = login(alice).post(
            setting_url(acme_365),
            {"folder_name": "  CRM   contacts "},
            follow=True,
        )

        assert MicrosoftConnection.objects.get(profile=acme_365).folder_name == "CRM contacts"
        assert messages_of(response) == ["Contacts go into the folder “CRM contacts”."]

    @pytest.mark.parametrize("name", ["", "   ", "a/b", "x" * 101])
    def test_a_bad_name_changes_nothing(
        self, login: Login, alice: User, acme_365: SyncProfile, name: str
    ) -> None:
        response = login(alice).post(
            setting_url(acme_365),
            {"folder_name": name},
            follow=True,
        )

        assert MicrosoftConnection.objects.get(profile=acme_365).folder_name == "SuperOffice"
        assert response.status_code == 200
        assert messages_of(response)

    def test_a_folder_in_use_keeps_its_name(
        self, login: Login, alice: User, acme_365: SyncProfile, bob_link: LinkedUser
    ) -> None:
        bob_link.profile = acme_365
        bob_link.save()
        TargetAccount.objects.create(linked_user=bob_link, remote_user_id="u", folder_id="f")

        response = login(alice).post(
            setting_url(acme_365),
            {"folder_name": "Other"},
            follow=True,
        )

        assert MicrosoftConnection.objects.get(profile=acme_365).folder_name == "SuperOffice"
        assert "1 mailboxes have it already" in messages_of(response)[0]

    def test_the_access_mode_switches(
        self, login: Login, alice: User, acme_365: SyncProfile
    ) -> None:
        url = setting_url(acme_365, "access")

        response = login(alice).post(url, {"access": "delegated"}, follow=True)

        connection = MicrosoftConnection.objects.get(profile=acme_365)
        assert connection.access == MicrosoftAccess.DELEGATED
        assert messages_of(response) == ["Each user now connects their own mailbox on their page."]
        assert b"Each linked user connects their own mailbox" in response.content

        login(alice).post(url, {"access": "nonsense"})
        assert MicrosoftConnection.objects.get(profile=acme_365).access == "delegated"

    @pytest.mark.parametrize("action", ["folder", "access"])
    @pytest.mark.parametrize(("who", "status"), [("bob", 403), ("charlie", 404)])
    def test_member_gets_403_and_other_tenant_404(
        self,
        login: Login,
        acme_365: SyncProfile,
        action: str,
        who: str,
        status: int,
        request: pytest.FixtureRequest,
    ) -> None:
        user = request.getfixturevalue(who)
        url = setting_url(acme_365, action)
        response = login(user).post(url, {"folder_name": "X", "access": "delegated"})

        assert response.status_code == status
        connection = MicrosoftConnection.objects.get(profile=acme_365)
        assert (connection.folder_name, connection.access) == ("SuperOffice", "application")
