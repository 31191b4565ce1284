"""Link Users of a Microsoft 365 profile: the SuperOffice sandbox's users (Nordlys) are
matched by e-mail to the mailboxes of an organisation in the Microsoft 365 stand-in, one by
one and all at once. Ingrid administers Nordlys, Ola is a member (403), charlie administers
Globex (404)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from profiles.models import (
    LinkedUser,
    MicrosoftAccess,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
    Tenant,
    User,
)
from profiles.services import linked_user_link
from sandbox.microsoft.testing import MicrosoftControl
from syncengine import microsoft_linking
from syncengine.microsoft_linking import mailboxes_match_linked
from syncengine.models import RunKind, SyncRun
from syncengine.readiness import link_waiting_for
from tests.plugins.nordlys import INGRID, OLA
from tests.portals.microsoft_pages import Login, microsoft_profile
from tests.portals.pages import messages_of

KARI = "kari.lie@nordlys-demo.example"
MAJA = "maja.nilsen@nordlys-demo.example"  # has no mailbox in the organisation


@pytest.fixture
def nordlys_directory(microsoft: MicrosoftControl, microsoft_settings: Any) -> dict[str, str]:
    """Nordlys's Microsoft 365 organisation, consented: mailboxes of Ingrid, Ola and Kari
    (Kari's under another sign-in name, her mail in upper case)."""
    directory_id = microsoft.directory_create(name="Nordlys", domain="nordlys-demo.example")
    mailboxes = {
        email: microsoft.user_create(
            directory_id=directory_id, display_name=name, mail=email, is_admin=admin
        )["id"]
        for email, name, admin in [
            (INGRID, "Ingrid Haugen", True),
            (OLA, "Ola Berg", False),
            (KARI.upper(), "Kari Lie", False),
        ]
    }
    microsoft.consent_set(directory_id=directory_id)
    return {"directory_id": directory_id, **{k.lower(): v for k, v in mailboxes.items()}}


@pytest.fixture
def nordlys_365(nordlys: Tenant) -> SyncProfile:
    return microsoft_profile(nordlys, "Nordlys 365")


def connect(profile: SyncProfile, organisation: dict[str, str], user: User | None = None) -> None:
    MicrosoftConnection.objects.filter(profile=profile).update(
        directory_id=organisation["directory_id"], consented_at=timezone.now(), consented_by=user
    )


@pytest.fixture
def organisation(nordlys_365: SyncProfile, nordlys_directory: dict[str, str]) -> dict[str, str]:
    """Nordlys's organisation, connected to the profile."""
    connect(nordlys_365, nordlys_directory)
    return nordlys_directory


def page(profile: SyncProfile) -> str:
    return f"/manage/profiles/{profile.code}/link-users/"


def link_url(profile: SyncProfile, what: str = "link") -> str:
    return f"/manage/profiles/{profile.code}/microsoft/{what}/"


class TestLinkUsersPage:
    def test_it_lists_users_beside_their_mailbox(
        self, login: Login, ingrid: User, nordlys_365: SyncProfile, organisation: dict[str, str]
    ) -> None:
        response = login(ingrid).get(page(nordlys_365))

        assert response.status_code == 200
        matches = {m.associate.email: m.mailbox for m in response.context["matches"]}
        assert [matches[OLA].id, matches[KARI].id] == [organisation[OLA], organisation[KARI]]
        assert matches[MAJA] is None
        assert b"No mailbox with this e-mail in the organisation" in response.content
        assert b"Link all matching (3)" in response.content

    def test_an_organisation_not_connected_is_said(
        self, login: Login, ingrid: User, nordlys_365: SyncProfile
    ) -> None:
        response = login(ingrid).get(page(nordlys_365))

        assert b"The Microsoft 365 organisation is not connected yet." in response.content
        assert response.context["matches"] == []

    def test_a_revoked_consent_is_said_in_words(
        self,
        login: Login,
        ingrid: User,
        nordlys_365: SyncProfile,
        organisation: dict[str, str],
        microsoft: MicrosoftControl,
    ) -> None:
        microsoft.consent_set(directory_id=organisation["directory_id"], granted=False)

        response = login(ingrid).get(page(nordlys_365))

        assert response.status_code == 200
        assert response.context["superoffice_problem"].startswith(
            "The organisation's mailboxes could not be listed: Microsoft 365 refused"
        )

    def test_member_gets_403(self, login: Login, ola: User, nordlys_365: SyncProfile) -> None:
        assert login(ola).get(page(nordlys_365)).status_code == 403

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, nordlys_365: SyncProfile
    ) -> None:
        assert login(charlie).get(page(nordlys_365)).status_code == 404


class TestLinkOne:
    def test_a_user_is_linked_to_their_mailbox_and_queued(
        self,
        login: Login,
        ingrid: User,
        ola: User,
        nordlys_365: SyncProfile,
        organisation: dict[str, str],
        published_runs: list[int],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = login(ingrid).post(link_url(nordlys_365), {"associate_id": "2"}, follow=True)

        link = LinkedUser.objects.get(profile=nordlys_365, associate_id=2)
        account = TargetAccount.objects.get(linked_user=link)
        assert (account.username, account.remote_user_id) == (OLA, organisation[OLA])
        assert account.verified_at is not None
        assert link_waiting_for(link) == []
        assert messages_of(response) == [f"Ola Berg was linked to the mailbox {OLA}."]
        run = SyncRun.objects.get(linked_user=link)
        assert (run.kind, published_runs) == (RunKind.FIRST, [run.pk])

    def test_a_user_without_a_mailbox_is_not_linked(
        self, login: Login, ingrid: User, nordlys_365: SyncProfile, organisation: dict[str, str]
    ) -> None:
        response = login(ingrid).post(link_url(nordlys_365), {"associate_id": "4"}, follow=True)

        assert not LinkedUser.objects.exists()
        assert messages_of(response) == [
            f"The Microsoft 365 organisation has no mailbox with the e-mail {MAJA}, so Maja "
            "Nilsen was not linked."
        ]

    @pytest.mark.parametrize("associate_id", ["", "x", "999", "6"])
    def test_bad_input_links_nobody(
        self,
        login: Login,
        ingrid: User,
        nordlys_365: SyncProfile,
        organisation: dict[str, str],
        associate_id: str,
    ) -> None:
        response = login(ingrid).post(
            link_url(nordlys_365), {"associate_id": associate_id}, follow=True
        )

        assert response.status_code == 200
        assert not LinkedUser.objects.exists()
        assert messages_of(response)

    def test_a_user_linked_already_is_not_linked_twice(
        self, login: Login, ingrid: User, nordlys_365: SyncProfile, organisation: dict[str, str]
    ) -> None:
        client = login(ingrid)
        client.post(link_url(nordlys_365), {"associate_id": "2"})

        response = client.post(link_url(nordlys_365), {"associate_id": "2"}, follow=True)

        assert LinkedUser.objects.count() == 1
        assert messages_of(response)[-1] == "Ola Berg is linked already; nobody was linked."

    def test_an_organisation_not_connected_links_nobody(
        self, login: Login, ingrid: User, nordlys_365: SyncProfile
    ) -> None:
        response = login(ingrid).post(link_url(nordlys_365), {"associate_id": "2"}, follow=True)

        assert not LinkedUser.objects.exists()
        assert "The Microsoft 365 organisation is not connected" in messages_of(response)[0]

    def test_delegated_access_links_by_email(
        self,
        login: Login,
        ingrid: User,
        ola: User,
        nordlys_365: SyncProfile,
        published_runs: list[int],
    ) -> None:
        MicrosoftConnection.objects.filter(profile=nordlys_365).update(
            access=MicrosoftAccess.DELEGATED
        )

        response = login(ingrid).post(link_url(nordlys_365), {"associate_id": "2"}, follow=True)

        link = LinkedUser.objects.get(associate_id=2)
        account = TargetAccount.objects.get(linked_user=link)
        assert (account.username, account.remote_user_id, account.verified_at) == (OLA, "", None)
        assert "They connect their Microsoft 365 mailbox" in messages_of(response)[0]
        assert link_waiting_for(link) == [
            "Waiting for the user to connect their Microsoft 365 mailbox "
            "(“Connect Microsoft 365” on their page)."
        ]
        assert published_runs == []

    @pytest.mark.parametrize("what", ["link", "link-all"])
    @pytest.mark.parametrize(("who", "status"), [("ola", 403), ("charlie", 404)])
    def test_member_gets_403_and_other_tenant_404(
        self,
        login: Login,
        nordlys_365: SyncProfile,
        what: str,
        who: str,
        status: int,
        request: pytest.FixtureRequest,
    ) -> None:
        user = request.getfixturevalue(who)
        response = login(user).post(link_url(nordlys_365, what), {"associate_id": "2"})

        assert response.status_code == status
        assert not LinkedUser.objects.exists()

    def test_it_only_takes_post(self, login: Login, ingrid: User, nordlys_365: SyncProfile) -> None:
        assert login(ingrid).get(link_url(nordlys_365)).status_code == 405


class TestLinkAll:
    def test_every_matching_user_is_linked(
        self, login: Login, ingrid: User, nordlys_365: SyncProfile, organisation: dict[str, str]
    ) -> None:
        response = login(ingrid).post(link_url(nordlys_365, "link-all"), follow=True)

        accounts = {
            account.linked_user.email: account
            for account in TargetAccount.objects.select_related("linked_user")
        }
        assert set(accounts) == {INGRID, OLA, KARI}
        assert accounts[KARI].remote_user_id == organisation[KARI]
        assert accounts[KARI].username == KARI.upper()
        assert all(account.verified_at for account in accounts.values())
        said = messages_of(response)
        assert said[0].startswith("3 users were linked: ")
        assert said[1].startswith("2 users have no mailbox")
        assert "Maja Nilsen, Lars Lund" in said[1] or "Lars Lund, Maja Nilsen" in said[1]

    def test_nobody_left_is_said(
        self, login: Login, ingrid: User, nordlys_365: SyncProfile, organisation: dict[str, str]
    ) -> None:
        client = login(ingrid)
        client.post(link_url(nordlys_365, "link-all"))

        response = client.post(link_url(nordlys_365, "link-all"), follow=True)

        assert LinkedUser.objects.count() == 3
        assert "Nobody was left to link." in messages_of(response)

    def test_a_revoked_consent_links_nobody(
        self,
        login: Login,
        ingrid: User,
        nordlys_365: SyncProfile,
        organisation: dict[str, str],
        microsoft: MicrosoftControl,
    ) -> None:
        microsoft.consent_set(directory_id=organisation["directory_id"], granted=False)

        response = login(ingrid).post(link_url(nordlys_365, "link-all"), follow=True)

        assert response.status_code == 200
        assert not LinkedUser.objects.exists()
        assert "could not be listed" in messages_of(response)[0]

    def test_someone_linked_meanwhile_links_nobody_and_says_why(
        self,
        login: Login,
        ingrid: User,
        nordlys_365: SyncProfile,
        organisation: dict[str, str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Another administrator links Kari while this page still offers her and her mailbox.
        kari = linked_user_link(profile=nordlys_365, associate_id=3, email=KARI, full_name="Kari")
        monkeypatch.setattr(microsoft_linking, "_linked_associates", lambda profile: set())

        response = login(ingrid).post(link_url(nordlys_365, "link-all"), follow=True)

        assert response.status_code == 200
        assert list(LinkedUser.objects.all()) == [kari]
        assert messages_of(response) == [
            "Nobody was linked: Kari is already linked to the profile “Nordlys 365”. Reload "
            "the page and try again."
        ]


def test_users_linked_by_email_get_their_mailbox_when_the_organisation_connects(
    nordlys_365: SyncProfile, ingrid: User, nordlys_directory: dict[str, str]
) -> None:
    link = linked_user_link(profile=nordlys_365, associate_id=3, email=KARI, full_name="Kari")
    lost = linked_user_link(profile=nordlys_365, associate_id=4, email=MAJA, full_name="Maja")
    connect(nordlys_365, nordlys_directory, ingrid)

    assert mailboxes_match_linked(profile=nordlys_365) == 1

    account = TargetAccount.objects.get(linked_user=link)
    assert account.remote_user_id == nordlys_directory[KARI]
    assert account.verified_at is not None
    assert not TargetAccount.objects.filter(linked_user=lost).exists()
    assert link_waiting_for(lost)[-1] == (
        "Waiting for a mailbox: no Microsoft 365 mailbox of the organisation is linked."
    )


@pytest.mark.parametrize(
    ("count", "words"), [(1, "1 user has"), (2, "2 users have"), (12, "12 users have")]
)
def test_counts_of_people_read_naturally(count: int, words: str) -> None:
    from syncengine.microsoft_views import _people

    assert _people(count) == words
