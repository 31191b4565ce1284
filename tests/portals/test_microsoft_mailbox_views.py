"""A user connects their own Microsoft 365 mailbox (delegated access) from their page,
through the stand-in's sign-in page; a lost connection shows in words on their page and
on the administrator's Status page. Ola owns the link, Ingrid administers Nordlys,
charlie administers Globex (404)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
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
from syncengine.microsoft_views import MAILBOX_SESSION_KEY
from syncengine.models import RunKind, SyncRun
from tests.plugins.nordlys import OLA
from tests.portals.microsoft_pages import HOST, Login, come_back, microsoft_press, microsoft_profile
from tests.portals.pages import messages_of


@pytest.fixture
def organisation(microsoft: MicrosoftControl, microsoft_settings: Any) -> dict[str, str]:
    directory_id = microsoft.directory_create(name="Nordlys", domain="nordlys-demo.example")
    ola = microsoft.user_create(directory_id=directory_id, display_name="Ola Berg", mail=OLA)
    return {"directory_id": directory_id, "ola": ola["id"]}


@pytest.fixture
def delegated_profile(nordlys: Tenant) -> SyncProfile:
    profile = microsoft_profile(nordlys, "Nordlys 365")
    MicrosoftConnection.objects.filter(profile=profile).update(access=MicrosoftAccess.DELEGATED)
    return profile


@pytest.fixture
def ola_365(delegated_profile: SyncProfile, ola: User) -> LinkedUser:
    return linked_user_link(
        profile=delegated_profile, associate_id=2, email=OLA, full_name="Ola Berg"
    )


def connect_url(link: LinkedUser) -> str:
    return f"/links/{link.code}/microsoft/connect/"


def start(client: Client, link: LinkedUser) -> str:
    response = client.post(connect_url(link), HTTP_HOST=HOST)
    assert response.status_code == 302, messages_of(client.get("/"))
    return str(response["Location"])


class TestConnectMailbox:
    def test_the_user_connects_their_mailbox(
        self,
        login: Login,
        ola: User,
        ola_365: LinkedUser,
        organisation: dict[str, str],
        django_capture_on_commit_callbacks: Any,
        published_runs: list[int],
    ) -> None:
        client = login(ola)
        sign_in_page = start(client, ola_365)
        assert "login_hint=ola.berg%40nordlys-demo.example" in sign_in_page

        with django_capture_on_commit_callbacks(execute=True):
            response = come_back(client, microsoft_press(sign_in_page, user_id=organisation["ola"]))

        account = TargetAccount.objects.get(linked_user=ola_365)
        assert (account.username, account.remote_user_id) == (OLA, organisation["ola"])
        assert account.secret
        assert account.verified_at is not None
        assert messages_of(response) == [f"Your Microsoft 365 mailbox {OLA} is connected."]
        assert response.redirect_chain[-1][0] == f"/links/{ola_365.code}/"
        run = SyncRun.objects.get(linked_user=ola_365)
        assert (run.kind, published_runs) == (RunKind.FIRST, [run.pk])
        assert MAILBOX_SESSION_KEY not in client.session

    def test_a_cancelled_sign_in_changes_nothing(
        self, login: Login, ola: User, ola_365: LinkedUser, organisation: dict[str, str]
    ) -> None:
        client = login(ola)

        response = come_back(client, microsoft_press(start(client, ola_365)))

        assert not TargetAccount.objects.filter(linked_user=ola_365).exclude(secret="").exists()
        assert messages_of(response) == [
            "Your mailbox was not connected: you declined the permissions on Microsoft's page. "
            "Nothing was changed."
        ]
        assert b"Connect Microsoft 365" in response.content

    def test_a_foreign_state_is_refused(
        self, login: Login, ola: User, ola_365: LinkedUser, organisation: dict[str, str]
    ) -> None:
        client = login(ola)
        location = microsoft_press(start(client, ola_365), user_id=organisation["ola"])

        response = come_back(client, location.replace("state=", "state=x"))

        assert not TargetAccount.objects.filter(linked_user=ola_365).exclude(secret="").exists()
        assert "does not belong to the sign-in started here" in messages_of(response)[0]

    def test_a_mailbox_of_another_organisation_is_refused(
        self, login: Login, ola: User, ola_365: LinkedUser, organisation: dict[str, str]
    ) -> None:
        MicrosoftConnection.objects.filter(profile=ola_365.profile).update(
            directory_id="0a0a0a0a-1b1b-2c2c-3d3d-4e4e4e4e4e4e"
        )
        client = login(ola)

        response = come_back(
            client, microsoft_press(start(client, ola_365), user_id=organisation["ola"])
        )

        assert not TargetAccount.objects.filter(linked_user=ola_365).exclude(secret="").exists()
        assert "belongs to another Microsoft 365 organisation" in messages_of(response)[0]

    def test_an_answer_without_a_sign_in_started_is_refused(
        self, login: Login, ola: User, ola_365: LinkedUser
    ) -> None:
        response = login(ola).get("/microsoft/mailbox/?code=x&state=y", follow=True)

        assert "No mailbox connection was started" in messages_of(response)[0]
        assert not TargetAccount.objects.filter(linked_user=ola_365).exists()

    def test_with_application_access_there_is_nothing_to_connect(
        self, login: Login, ola: User, ola_365: LinkedUser
    ) -> None:
        MicrosoftConnection.objects.filter(profile=ola_365.profile).update(
            access=MicrosoftAccess.APPLICATION
        )

        response = login(ola).post(connect_url(ola_365), follow=True)

        assert "there is nothing for you to connect" in messages_of(response)[0]

    def test_an_administrator_cannot_connect_someone_elses_mailbox(
        self, login: Login, ingrid: User, ola_365: LinkedUser
    ) -> None:
        client = login(ingrid)
        page = client.get(f"/links/{ola_365.code}/credentials/")
        assert b"Only Ola Berg can connect their mailbox" in page.content

        response = client.post(connect_url(ola_365))

        assert response.status_code == 403
        assert MAILBOX_SESSION_KEY not in client.session

    def test_an_administrator_cannot_finish_someone_elses_sign_in(
        self, login: Login, ingrid: User, ola_365: LinkedUser
    ) -> None:
        client = login(ingrid)
        session = client.session
        session[MAILBOX_SESSION_KEY] = {"link": str(ola_365.code), "flow": {}}
        session.save()

        response = client.get("/microsoft/mailbox/?code=x&state=y")

        assert response.status_code == 403
        assert not TargetAccount.objects.filter(linked_user=ola_365).exists()

    def test_another_member_gets_404(
        self, login: Login, ola: User, delegated_profile: SyncProfile, ingrid: User
    ) -> None:
        ingrid_link = linked_user_link(
            profile=delegated_profile, associate_id=1, email="i@x.example", full_name="Ingrid"
        )

        assert login(ola).post(connect_url(ingrid_link)).status_code == 404

    def test_other_tenant_gets_404(self, login: Login, charlie: User, ola_365: LinkedUser) -> None:
        assert login(charlie).post(connect_url(ola_365)).status_code == 404
        assert login(charlie).get(f"/links/{ola_365.code}/credentials/").status_code == 404

    def test_it_only_takes_post(self, login: Login, ola: User, ola_365: LinkedUser) -> None:
        assert login(ola).get(connect_url(ola_365)).status_code == 405

    def test_it_requires_login(self, client: Client, ola_365: LinkedUser) -> None:
        assert client.post(connect_url(ola_365)).status_code == 302


class TestLostConnectionInWords:
    FAILURE = (
        "Microsoft no longer accepts ola.berg@nordlys-demo.example's connection to their "
        "mailbox (it expired or was revoked)."
    )

    @pytest.fixture
    def lost(self, ola_365: LinkedUser) -> LinkedUser:
        TargetAccount.objects.create(
            linked_user=ola_365,
            username=OLA,
            remote_user_id="u-ola",
            secret="refresh",
            verified_at=timezone.now(),
            failure=self.FAILURE,
            failed_at=timezone.now(),
        )
        return ola_365

    def test_the_users_pages_say_it(self, login: Login, ola: User, lost: LinkedUser) -> None:
        client = login(ola)

        overview = client.get(f"/links/{lost.code}/").content.decode()
        mailbox = client.get(f"/links/{lost.code}/credentials/").content.decode()

        for content in (overview, mailbox):
            assert "Microsoft no longer accepts ola.berg@nordlys-demo.example" in content
            assert "Connect again" in content

    def test_the_status_page_says_it(self, login: Login, ingrid: User, lost: LinkedUser) -> None:
        response = login(ingrid).get("/manage/status/")

        row = next(row for row in response.context["rows"] if row.linked_user == lost)
        assert row.state == "waiting"
        assert row.problem.startswith(
            "Microsoft 365 stopped accepting the mailbox's connection: Microsoft no longer"
        )

    def test_an_organisations_lost_consent_shows_on_the_status_page(
        self, login: Login, ingrid: User, ola_365: LinkedUser
    ) -> None:
        MicrosoftConnection.objects.filter(profile=ola_365.profile).update(
            access=MicrosoftAccess.APPLICATION,
            directory_id="0a0a0a0a-1b1b-2c2c-3d3d-4e4e4e4e4e4e",
            consented_at=timezone.now(),
            failure="Microsoft 365 refused Synchronizer's access to the organisation.",
        )

        response = login(ingrid).get("/manage/status/")

        row = next(row for row in response.context["rows"] if row.linked_user == ola_365)
        assert "stopped accepting the organisation's connection" in row.problem
        assert "An administrator connects it again on the profile page." in row.problem
