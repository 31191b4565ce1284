"""Sync pages (syncengine/views.py): the user's overview, Sync now, Edit credentials and
run history with its JSON; deletions held by the guard, *Apply* and *Keep*; the admin's
Link Users and Status pages. Credentials are tested against a real Radicale, SuperOffice
users read from the live sandbox."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from profiles.models import LinkedUser, SuperOfficeToken, SyncProfile, TargetAccount, User
from syncengine.models import (
    HeldDecision,
    HeldDeletion,
    PersonMapping,
    RunKind,
    RunStatus,
    SyncRun,
    SyncSchedule,
)
from tests.plugins.radicale import RadicaleHelper
from tests.portals.conftest import make_ready
from tests.portals.pages import messages_of

Login = Callable[[User], Client]
OnCommit = Callable[..., Any]


def finished_run(linked_user: LinkedUser, **fields: Any) -> SyncRun:
    now = timezone.now()
    values: dict[str, Any] = {
        "kind": RunKind.REGULAR,
        "status": RunStatus.SUCCEEDED,
        "started_at": now - timedelta(minutes=1),
        "finished_at": now,
        **fields,
    }
    return SyncRun.objects.create(linked_user=linked_user, **values)


def held_run(linked_user: LinkedUser, person_ids: list[int]) -> SyncRun:
    """A run whose guard held these persons' deletion, asking for a decision."""
    for person_id in person_ids:
        PersonMapping.objects.create(
            linked_user=linked_user, person_id=person_id, target_uid=f"so-person-{person_id}"
        )
    run = finished_run(linked_user, status=RunStatus.NEEDS_CONFIRMATION, held_deletions=person_ids)
    run.held_deletion = HeldDeletion.objects.create(
        linked_user=linked_user,
        person_ids=person_ids,
        sources={str(person_id): ["selection:1", "favourite_persons"] for person_id in person_ids},
        source_labels={
            "selection:1": "Selection “Key customers”",
            "favourite_persons": "Favourite contacts",
        },
        last_run=run,
    )
    run.save(update_fields=["held_deletion"])
    return run


# --- the overview ---------------------------------------------------------------------------


class TestOverview:
    def url(self, linked_user: LinkedUser) -> str:
        return f"/links/{linked_user.code}/"

    def test_a_new_link_says_what_it_waits_for(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        response = login(bob).get(self.url(bob_link))

        assert response.status_code == 200
        content = response.content.decode()
        assert "My sync" in content
        assert "Acme mailboxes" in content
        assert "Not connected" in content
        assert "Waiting for sign-in" in content
        assert "Waiting for mailbox credentials that have been tested." in content
        assert "After the first sync" in content
        assert "Sync now" in content

    def test_last_and_next_sync_with_a_countdown(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        schedule = make_ready(bob_link)
        run = finished_run(bob_link, created_count=7)

        response = login(bob).get(self.url(bob_link))

        overview = response.context["overview"]
        assert overview.waiting_for == []
        assert overview.last_run == run
        assert overview.next_sync_at == schedule.next_regular_at
        content = response.content.decode()
        assert f'data-countdown datetime="{schedule.next_regular_at.isoformat()}"' in content
        assert "Connected" in content
        assert "7 created" in content

    def test_edit_preferences_becomes_view_when_the_admin_locks_them(
        self, login: Login, bob: User, bob_link: LinkedUser, acme_profile: SyncProfile
    ) -> None:
        acme_profile.users_can_edit_preferences = False
        acme_profile.save()

        response = login(bob).get(self.url(bob_link))

        assert b"View preferences" in response.content
        assert b"Edit preferences" not in response.content

    def test_an_admin_sees_a_users_overview(
        self, login: Login, alice: User, bob_link: LinkedUser
    ) -> None:
        response = login(alice).get(self.url(bob_link))

        assert response.status_code == 200
        assert b"Sync of Bob" in response.content

    def test_another_member_gets_404(self, login: Login, bob: User, alice_link: LinkedUser) -> None:
        assert login(bob).get(self.url(alice_link)).status_code == 404

    def test_another_tenant_gets_404(
        self, login: Login, charlie: User, bob_link: LinkedUser
    ) -> None:
        assert login(charlie).get(self.url(bob_link)).status_code == 404

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        response = client.get(self.url(bob_link))

        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


class TestSyncNow:
    def url(self, linked_user: LinkedUser) -> str:
        return f"/links/{linked_user.code}/sync-now/"

    def test_it_queues_a_regular_run(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        make_ready(bob_link)

        with django_capture_on_commit_callbacks(execute=True):
            response = login(bob).post(self.url(bob_link), follow=True)

        run = SyncRun.objects.get(linked_user=bob_link)
        assert (run.kind, run.status) == (RunKind.REGULAR, RunStatus.QUEUED)
        assert published_runs == [run.pk]
        assert "A sync is queued; you can follow it below." in messages_of(response)

    def test_a_link_that_cannot_run_says_why(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        response = login(bob).post(self.url(bob_link), follow=True)

        assert not SyncRun.objects.exists()
        [message] = messages_of(response)
        assert message.startswith("Nothing was queued: Waiting for sign-in")

    def test_it_only_takes_post(self, login: Login, bob: User, bob_link: LinkedUser) -> None:
        make_ready(bob_link)

        assert login(bob).get(self.url(bob_link)).status_code == 405
        assert not SyncRun.objects.exists()

    def test_another_member_gets_404(self, login: Login, bob: User, alice_link: LinkedUser) -> None:
        make_ready(alice_link)

        assert login(bob).post(self.url(alice_link)).status_code == 404
        assert not SyncRun.objects.exists()

    def test_another_tenant_gets_404(
        self, login: Login, charlie: User, bob_link: LinkedUser
    ) -> None:
        make_ready(bob_link)

        assert login(charlie).post(self.url(bob_link)).status_code == 404
        assert not SyncRun.objects.exists()

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        make_ready(bob_link)

        assert client.post(self.url(bob_link)).status_code == 302
        assert not SyncRun.objects.exists()


# --- Edit credentials -------------------------------------------------------------------------


class TestCredentials:
    def url(self, linked_user: LinkedUser) -> str:
        return f"/links/{linked_user.code}/credentials/"

    @pytest.fixture
    def on_radicale(self, acme_profile: SyncProfile, radicale: RadicaleHelper) -> SyncProfile:
        acme_profile.carddav_url = radicale.url
        acme_profile.save()
        return acme_profile

    def test_the_user_name_defaults_to_the_e_mail(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        response = login(bob).get(self.url(bob_link))

        assert response.status_code == 200
        assert response.context["form"]["username"].value() == "bob@acme.example"
        assert b'type="password"' in response.content

    def test_working_credentials_are_saved_and_the_first_run_starts(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        on_radicale: SyncProfile,
        radicale: RadicaleHelper,
        published_runs: list[int],
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        SuperOfficeToken.objects.create(
            user=bob, access_token="a", refresh_token="r", expires_at=timezone.now()
        )
        book = radicale.new_mailbox("bob")

        with django_capture_on_commit_callbacks(execute=True):
            response = login(bob).post(
                self.url(bob_link), {"username": book.username, "password": book.password}
            )

        assert response.status_code == 302
        account = TargetAccount.objects.get(linked_user=bob_link)
        assert (account.username, account.secret) == (book.username, book.password)
        assert account.collection_url == book.url
        assert account.verified_at is not None
        first = SyncRun.objects.get(linked_user=bob_link)
        assert first.kind == RunKind.FIRST
        assert published_runs == [first.pk]

    def test_rejected_credentials_change_nothing_and_are_not_shown_back(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        on_radicale: SyncProfile,
        radicale: RadicaleHelper,
    ) -> None:
        book = radicale.new_mailbox("bob")
        TargetAccount.objects.create(
            linked_user=bob_link, username=book.username, secret=book.password
        )

        response = login(bob).post(
            self.url(bob_link), {"username": book.username, "password": "wrong-Secret-123"}
        )

        assert response.status_code == 200
        assert "rejected the user name" in " ".join(response.context["form"].non_field_errors())
        assert b"wrong-Secret-123" not in response.content
        assert book.password.encode() not in response.content
        account = TargetAccount.objects.get(linked_user=bob_link)
        assert account.secret == book.password
        assert account.verified_at is None

    def test_an_empty_password_keeps_the_stored_one(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        on_radicale: SyncProfile,
        radicale: RadicaleHelper,
    ) -> None:
        book = radicale.new_mailbox("bob")
        TargetAccount.objects.create(linked_user=bob_link, username="typo", secret=book.password)

        login(bob).post(self.url(bob_link), {"username": book.username, "password": ""})

        account = TargetAccount.objects.get(linked_user=bob_link)
        assert account.username == book.username
        assert account.verified_at is not None

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            ({"username": "", "password": "x"}, "This field is required."),
            ({"username": "bob", "password": ""}, "Type the mailbox"),
        ],
    )
    def test_bad_input_saves_nothing(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        on_radicale: SyncProfile,
        data: dict[str, str],
        problem: str,
    ) -> None:
        response = login(bob).post(self.url(bob_link), data)

        assert response.status_code == 200
        assert problem in response.content.decode()
        assert not TargetAccount.objects.exists()

    def test_a_profile_without_a_server_says_so(
        self, login: Login, bob: User, bob_link: LinkedUser, acme_profile: SyncProfile
    ) -> None:
        acme_profile.carddav_url = ""
        acme_profile.save()

        response = login(bob).post(self.url(bob_link), {"username": "bob", "password": "pw"})

        assert "has no CardDAV server URL yet" in response.content.decode()
        assert not TargetAccount.objects.exists()

    def test_another_member_gets_404(self, login: Login, bob: User, alice_link: LinkedUser) -> None:
        client = login(bob)
        assert client.get(self.url(alice_link)).status_code == 404
        assert (
            client.post(self.url(alice_link), {"username": "x", "password": "y"}).status_code == 404
        )
        assert not TargetAccount.objects.exists()

    def test_another_tenant_gets_404(
        self, login: Login, charlie: User, bob_link: LinkedUser
    ) -> None:
        assert login(charlie).get(self.url(bob_link)).status_code == 404

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        assert client.get(self.url(bob_link)).status_code == 302


# --- run history ------------------------------------------------------------------------------


class TestRunHistory:
    def test_the_history_lists_the_runs(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        older = finished_run(bob_link, created_count=3)
        running = SyncRun.objects.create(
            linked_user=bob_link,
            kind=RunKind.PREFERENCE_CHANGE,
            status=RunStatus.RUNNING,
            progress_done=4,
            progress_total=10,
        )

        response = login(bob).get(f"/links/{bob_link.code}/runs/")

        assert response.status_code == 200
        assert response.context["runs"] == [running, older]
        content = response.content.decode()
        assert "4 / 10" in content
        assert f'data-runs-url="/links/{bob_link.code}/runs.json"' in content
        assert "js/runs.js" in content

    def test_the_json_gives_live_progress(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        run = SyncRun.objects.create(
            linked_user=bob_link,
            kind=RunKind.PREFERENCE_CHANGE,
            status=RunStatus.RUNNING,
            progress_done=3,
            progress_total=12,
        )

        data = login(bob).get(f"/links/{bob_link.code}/runs.json").json()

        [shown] = data["runs"]
        assert shown["code"] == str(run.code)
        assert shown["kind"] == "Preference change"
        assert (shown["status"], shown["finished"]) == ("running", False)
        assert (shown["progress_done"], shown["progress_total"], shown["progress_percent"]) == (
            3,
            12,
            25,
        )
        assert data["waiting_for"]

    @pytest.mark.parametrize("path", ["runs/", "runs.json"])
    def test_another_member_gets_404(
        self, login: Login, bob: User, alice_link: LinkedUser, path: str
    ) -> None:
        assert login(bob).get(f"/links/{alice_link.code}/{path}").status_code == 404

    @pytest.mark.parametrize("path", ["runs/", "runs.json"])
    def test_another_tenant_gets_404(
        self, login: Login, charlie: User, bob_link: LinkedUser, path: str
    ) -> None:
        assert login(charlie).get(f"/links/{bob_link.code}/{path}").status_code == 404

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        assert client.get(f"/links/{bob_link.code}/runs.json").status_code == 302


# --- a run, and the deletions the guard held ----------------------------------------------------


class TestHeldDeletions:
    def url(self, run: SyncRun, action: str = "") -> str:
        assert run.held_deletion is not None
        return f"/held-deletions/{run.held_deletion.code}/{action}"

    def test_each_person_shows_the_sources_they_came_from(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        run = held_run(bob_link, [101, 102, 103])

        response = login(bob).get(self.url(run))

        assert response.status_code == 200
        described = response.context["described"]
        assert [person.person_id for person in described.persons] == [101, 102, 103]
        assert described.persons[0].sources == ["Selection “Key customers”", "Favourite contacts"]
        # Bob holds no SuperOffice token: the ids are shown, and why names are not.
        assert "Names could not be read from SuperOffice" in described.names_unavailable
        assert described.runs == [run]
        assert b"Apply 3 deletions" in response.content
        assert b"Keep these contacts" in response.content

    def test_names_come_from_superoffice(
        self, login: Login, ingrid: User, ingrid_link: LinkedUser
    ) -> None:
        # Persons 1 and 2 of the sandbox's tenant are its associates Ingrid and Ola.
        run = held_run(ingrid_link, [1, 2])

        response = login(ingrid).get(self.url(run))

        described = response.context["described"]
        assert [(person.person_id, person.name) for person in described.persons] == [
            (1, "Ingrid Haugen"),
            (2, "Ola Berg"),
        ]
        assert described.names_unavailable == ""

    def test_the_run_and_the_users_page_lead_to_the_decision(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        run = held_run(bob_link, [101, 102])
        client = login(bob)

        assert self.url(run).encode() in client.get(f"/runs/{run.code}/").content
        overview = client.get(f"/links/{bob_link.code}/")
        assert overview.context["held"] == run.held_deletion
        assert b"2 deletions wait for a decision" in overview.content

    def test_apply_is_recorded_and_carried_out_in_the_background(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        run = held_run(bob_link, [101, 102])

        with django_capture_on_commit_callbacks(execute=True):
            response = login(bob).post(self.url(run, "decide/"), {"decision": "apply"}, follow=True)

        held = HeldDeletion.objects.get()
        assert published_runs == [held.pk]
        assert "2 deletions are being applied in the background." in messages_of(response)
        assert held.decision == HeldDecision.APPLY
        assert held.decided_by == bob
        assert held.decided_at is not None
        assert b"Decided by" in response.content
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED  # no longer asks

    def test_an_admin_can_keep_a_users_contacts(
        self,
        login: Login,
        alice: User,
        bob_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        run = held_run(bob_link, [101])

        with django_capture_on_commit_callbacks(execute=True):
            response = login(alice).post(
                self.url(run, "decide/"), {"decision": "keep"}, follow=True
            )

        held = HeldDeletion.objects.get()
        assert published_runs == [held.pk]
        assert "The 1 contacts are kept; later runs leave them." in messages_of(response)
        assert (held.decision, held.decided_by) == (HeldDecision.KEEP, alice)

    def test_a_decision_is_taken_once(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        run = held_run(bob_link, [101])
        client = login(bob)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(self.url(run, "decide/"), {"decision": "keep"})
            response = client.post(self.url(run, "decide/"), {"decision": "apply"}, follow=True)

        assert "This was decided already; nothing was changed." in messages_of(response)
        assert HeldDeletion.objects.get().decision == HeldDecision.KEEP
        assert len(published_runs) == 1

    def test_an_unknown_decision_changes_nothing(
        self, login: Login, bob: User, bob_link: LinkedUser, published_runs: list[int]
    ) -> None:
        run = held_run(bob_link, [101])

        response = login(bob).post(self.url(run, "decide/"), {"decision": "forget"}, follow=True)

        assert "Choose to apply the deletions or to keep the contacts." in messages_of(response)
        assert HeldDeletion.objects.get().is_pending
        assert published_runs == []

    def test_it_only_takes_post(self, login: Login, bob: User, bob_link: LinkedUser) -> None:
        run = held_run(bob_link, [101])

        assert login(bob).get(self.url(run, "decide/")).status_code == 405

    def test_another_member_gets_404(
        self,
        login: Login,
        bob: User,
        alice_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        run = held_run(alice_link, [101])
        client = login(bob)

        assert client.get(f"/runs/{run.code}/").status_code == 404
        assert client.get(self.url(run)).status_code == 404
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(self.url(run, "decide/"), {"decision": "apply"})
        assert response.status_code == 404
        assert published_runs == []
        assert HeldDeletion.objects.get().is_pending

    def test_another_tenant_gets_404(
        self,
        login: Login,
        charlie: User,
        bob_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: OnCommit,
    ) -> None:
        run = held_run(bob_link, [101])
        client = login(charlie)

        assert client.get(f"/runs/{run.code}/").status_code == 404
        assert client.get(self.url(run)).status_code == 404
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(self.url(run, "decide/"), {"decision": "keep"})
        assert response.status_code == 404
        assert published_runs == []
        assert HeldDeletion.objects.get().is_pending

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        run = held_run(bob_link, [101])

        assert client.get(f"/runs/{run.code}/").status_code == 302
        assert client.get(self.url(run)).status_code == 302


# --- Link Users -----------------------------------------------------------------------------


class TestLinkUsers:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/link-users/"

    def test_it_offers_the_tenants_active_users_not_linked_yet(
        self, login: Login, ingrid: User, ingrid_link: LinkedUser, nordlys_profile: SyncProfile
    ) -> None:
        response = login(ingrid).get(self.url(nordlys_profile))

        assert response.status_code == 200
        choices = dict(response.context["form"].fields["associate_id"].choices)
        assert choices == {
            "": "Choose a user…",
            3: "Kari Lie <kari.lie@nordlys-demo.example>",
            5: "Lars Lund <lars.lund@konsulent.example>",
            4: "Maja Nilsen <maja.nilsen@nordlys-demo.example>",
            2: "Ola Berg <ola.berg@nordlys-demo.example>",
        }
        assert b"Ingrid Haugen" in response.content  # in the linked list

    def test_linking_without_credentials_leaves_them_to_the_user(
        self, login: Login, ingrid: User, nordlys_profile: SyncProfile
    ) -> None:
        response = login(ingrid).post(
            self.url(nordlys_profile),
            {"associate_id": "2", "username": "", "password": ""},
            follow=True,
        )

        link = LinkedUser.objects.get(profile=nordlys_profile)
        assert (link.associate_id, link.email, link.full_name) == (
            2,
            "ola.berg@nordlys-demo.example",
            "Ola Berg",
        )
        assert not TargetAccount.objects.exists()
        assert any("enter their mailbox credentials" in m for m in messages_of(response))

    def test_linking_with_credentials_tests_them_first(
        self,
        login: Login,
        ingrid: User,
        nordlys_profile: SyncProfile,
        radicale: RadicaleHelper,
    ) -> None:
        nordlys_profile.carddav_url = radicale.url
        nordlys_profile.save()
        book = radicale.new_mailbox("kari")

        login(ingrid).post(
            self.url(nordlys_profile),
            {"associate_id": "3", "username": book.username, "password": book.password},
        )

        link = LinkedUser.objects.get(profile=nordlys_profile)
        assert link.associate_id == 3
        account = TargetAccount.objects.get(linked_user=link)
        assert (account.username, account.collection_url) == (book.username, book.url)
        assert account.verified_at is not None

    def test_rejected_credentials_link_nobody(
        self,
        login: Login,
        ingrid: User,
        nordlys_profile: SyncProfile,
        radicale: RadicaleHelper,
    ) -> None:
        nordlys_profile.carddav_url = radicale.url
        nordlys_profile.save()
        book = radicale.new_mailbox("kari")

        response = login(ingrid).post(
            self.url(nordlys_profile),
            {"associate_id": "3", "username": book.username, "password": "nope"},
        )

        assert response.status_code == 200
        assert "Nobody was linked" in " ".join(response.context["form"].non_field_errors())
        assert b"nope" not in response.content
        assert not LinkedUser.objects.exists()

    @pytest.mark.parametrize(
        "data",
        [
            {"associate_id": "6"},  # Tor Bakke is inactive
            {"associate_id": "99"},
            {"associate_id": ""},
            {"associate_id": "2", "username": "ola", "password": ""},
        ],
    )
    def test_bad_input_links_nobody(
        self, login: Login, ingrid: User, nordlys_profile: SyncProfile, data: dict[str, str]
    ) -> None:
        response = login(ingrid).post(self.url(nordlys_profile), data)

        assert response.status_code == 200
        assert response.context["form"].errors
        assert not LinkedUser.objects.exists()

    def test_link_everyone_of_a_domain(
        self, login: Login, ingrid: User, ingrid_link: LinkedUser, nordlys_profile: SyncProfile
    ) -> None:
        response = login(ingrid).post(
            f"{self.url(nordlys_profile)}domain/", {"domain": "@Nordlys-Demo.example"}, follow=True
        )

        linked = set(
            LinkedUser.objects.filter(profile=nordlys_profile).values_list(
                "associate_id", flat=True
            )
        )
        # Ingrid was linked already; Tor is inactive; Lars is of another domain.
        assert linked == {1, 2, 3, 4}
        assert any(
            "3 users of @nordlys-demo.example were linked" in m for m in messages_of(response)
        )

    @pytest.mark.parametrize("domain", ["", "not a domain", "example"])
    def test_a_bad_domain_links_nobody(
        self, login: Login, ingrid: User, nordlys_profile: SyncProfile, domain: str
    ) -> None:
        response = login(ingrid).post(
            f"{self.url(nordlys_profile)}domain/", {"domain": domain}, follow=True
        )

        assert not LinkedUser.objects.exists()
        assert messages_of(response)

    def test_without_superoffice_the_page_says_so(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        # Alice holds no SuperOffice token: her tenant's users cannot be listed.
        response = login(alice).get(self.url(acme_profile))

        assert response.status_code == 200
        assert (
            "The users could not be read from SuperOffice"
            in response.context["superoffice_problem"]
        )
        assert b"Bob" in response.content

    def test_deleted_links_show_on_request_with_undelete(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        bob_link.soft_delete()
        client = login(alice)

        assert b"Un-delete" not in client.get(self.url(acme_profile)).content
        response = client.get(self.url(acme_profile) + "?deleted=1")
        assert f"/manage/links/{bob_link.code}/undelete/".encode() in response.content

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        client = login(bob)
        assert client.get(self.url(acme_profile)).status_code == 403
        assert (
            client.post(f"{self.url(acme_profile)}domain/", {"domain": "acme.example"}).status_code
            == 403
        )
        assert not LinkedUser.objects.exists()

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        client = login(charlie)
        assert client.get(self.url(acme_profile)).status_code == 404
        assert client.post(self.url(acme_profile), {"associate_id": "2"}).status_code == 404
        assert not LinkedUser.objects.exists()

    def test_it_requires_login(self, client: Client, acme_profile: SyncProfile) -> None:
        assert client.get(self.url(acme_profile)).status_code == 302


# --- the Status page --------------------------------------------------------------------------


class TestStatus:
    def test_every_linked_user_with_last_and_next_sync_and_the_error(
        self,
        login: Login,
        alice: User,
        alice_link: LinkedUser,
        bob_link: LinkedUser,
        charlie_link: LinkedUser,
    ) -> None:
        schedule = make_ready(bob_link)
        failed = finished_run(
            bob_link,
            status=RunStatus.FAILED,
            error_text="The mailbox rejected the app password; enter a new one.",
        )

        response = login(alice).get("/manage/status/")

        assert response.status_code == 200
        rows = {row.linked_user: row for row in response.context["rows"]}
        assert set(rows) == {alice_link, bob_link}
        assert rows[bob_link].last_run == failed
        assert rows[bob_link].next_sync_at == schedule.next_regular_at
        assert rows[bob_link].state == "attention"
        assert "rejected the app password" in rows[bob_link].problem
        assert rows[alice_link].state == "waiting"
        assert "Waiting for sign-in" in rows[alice_link].problem
        assert b"Charlie" not in response.content

    def test_it_sorts(
        self, login: Login, alice: User, alice_link: LinkedUser, bob_link: LinkedUser
    ) -> None:
        client = login(alice)

        ascending = client.get("/manage/status/?sort=email")
        descending = client.get("/manage/status/?sort=email&order=desc")

        assert [row.linked_user for row in ascending.context["rows"]] == [alice_link, bob_link]
        assert [row.linked_user for row in descending.context["rows"]] == [bob_link, alice_link]
        assert b'aria-sort="descending"' in descending.content
        # An unknown column sorts by name.
        assert client.get("/manage/status/?sort=secret").context["sort"] == "name"

    def test_held_runs_are_listed(self, login: Login, alice: User, bob_link: LinkedUser) -> None:
        make_ready(bob_link)
        run = held_run(bob_link, [101, 102])

        response = login(alice).get("/manage/status/")

        assert list(response.context["held_deletions"]) == [run.held_deletion]
        assert run.held_deletion is not None
        assert f"/held-deletions/{run.held_deletion.code}/".encode() in response.content
        [row] = response.context["rows"]
        assert "2 deletions wait for a decision" in row.problem

    def test_a_decided_deletion_is_no_problem_any_more(
        self, login: Login, alice: User, bob_link: LinkedUser
    ) -> None:
        make_ready(bob_link)
        run = held_run(bob_link, [101, 102])
        HeldDeletion.objects.update(decision=HeldDecision.KEEP, decided_at=timezone.now())
        SyncRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)

        response = login(alice).get("/manage/status/")

        assert list(response.context["held_deletions"]) == []
        [row] = response.context["rows"]
        assert row.problem == ""

    def test_the_csv_export(
        self, login: Login, alice: User, alice_link: LinkedUser, bob_link: LinkedUser
    ) -> None:
        finished_run(bob_link, status=RunStatus.FAILED, error_text='=HYPERLINK("x")')

        response = login(alice).get("/manage/status.csv?sort=name&order=desc")

        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith(
            'attachment; filename="synchronizer-status-'
        )
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == [
            "User",
            "E-mail",
            "Profile",
            "Mailbox user",
            "Status",
            "Last sync",
            "Next sync",
            "Problem",
        ]
        assert [row[0] for row in rows[1:]] == ["Bob", "Alice"]
        assert rows[1][4] == "waiting"
        # A formula is never handed to a spreadsheet as one.
        assert all(not cell.startswith("=") for row in rows for cell in row)

    def test_member_gets_403(self, login: Login, bob: User, bob_link: LinkedUser) -> None:
        client = login(bob)
        assert client.get("/manage/status/").status_code == 403
        assert client.get("/manage/status.csv").status_code == 403

    def test_another_tenants_admin_sees_only_their_own(
        self, login: Login, charlie: User, charlie_link: LinkedUser, bob_link: LinkedUser
    ) -> None:
        response = login(charlie).get("/manage/status.csv")

        assert "Bob" not in response.content.decode()
        assert "Charlie" in response.content.decode()

    def test_it_requires_login(self, client: Client, db: None) -> None:
        assert client.get("/manage/status/").status_code == 302
        assert client.get("/manage/status.csv").status_code == 302


def test_a_deleted_links_schedule_does_not_leak(
    login: Login, alice: User, bob_link: LinkedUser
) -> None:
    make_ready(bob_link)
    bob_link.soft_delete()

    response = login(alice).get("/manage/status/")

    assert response.context["rows"] == []
    assert SyncSchedule.objects.filter(linked_user=bob_link).exists()
