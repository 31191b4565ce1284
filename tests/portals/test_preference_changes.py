"""An administrator's change that alters users' effective Person Synchronization values is
held: its impact is computed (by the task, run here as soon as it is queued), shown, and
applied or cancelled (preferences/impact.py, the change pages in preferences/views.py).

Acme's users (alice administers, bob is a member, charlie is another tenant's
administrator) need no SuperOffice reads: their changes only take sources away. The
sandbox's Nordlys tenant (ingrid administers, ola is a member) is read for real."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client

from preferences.models import ChangeStatus, PendingPreferenceChange, PersonSyncPreferences
from preferences.selectors import effective_preferences_get
from profiles.models import LinkedUser, SyncProfile, User
from sandbox.testing import SandboxControl
from syncengine.models import PersonMapping, RunKind, SyncRun
from syncengine.superoffice.client import superoffice_client_for_user
from syncengine.superoffice.selections import selection_members
from tests.portals.conftest import make_ready
from tests.portals.pages import defaults_form, messages_of
from tests.preferences.impact_task import impact_task_runs_at_once  # noqa: F401

Login = Callable[[User], Client]
Commit = Callable[..., AbstractContextManager[Any]]

KEY_CUSTOMERS = {"id": 1, "name": "Nøkkelkunder Oslo"}  # static, 25 persons
BOARD = {"id": 4, "name": "Styret"}  # static, 6 persons (2 retired)


def map_persons(linked_user: LinkedUser, provenance: dict[int, list[str]]) -> None:
    """As if these persons' contacts were in the user's mailbox, named by these sources."""
    PersonMapping.objects.bulk_create(
        PersonMapping(
            linked_user=linked_user,
            person_id=person_id,
            provenance=sources,
            target_uid=f"uid-{person_id}",
            target_ref=f"/book/{person_id}.vcf",
            content_hash="h",
        )
        for person_id, sources in provenance.items()
    )


def switch_url(profile: SyncProfile) -> str:
    return f"/manage/profiles/{profile.code}/users-can-edit/"


def defaults_url(profile: SyncProfile) -> str:
    return f"/manage/profiles/{profile.code}/customize/superoffice/person-synchronization/"


def change_url(pending: PendingPreferenceChange, action: str = "") -> str:
    return f"/manage/preference-changes/{pending.code}/" + (f"{action}/" if action else "")


# --- Acme: bob's own selection goes when users may no longer edit ---------------------------


@pytest.fixture
def bobs_selection(bob_link: LinkedUser, alice_link: LinkedUser) -> LinkedUser:
    """Bob chose his own selection; 30 contacts are in his mailbox, 28 only through it."""
    make_ready(bob_link)
    make_ready(alice_link)
    PersonSyncPreferences.objects.create(
        linked_user=bob_link, static_selections=[{"id": 7, "name": "Mine"}]
    )
    provenance = {pid: ["selection:7"] for pid in range(100, 128)}
    provenance |= {200: ["selection:7", "appointments"], 201: ["appointments"]}
    map_persons(bob_link, provenance)
    return bob_link


@pytest.fixture
def held(
    login: Login,
    alice: User,
    acme_profile: SyncProfile,
    bobs_selection: LinkedUser,
    django_capture_on_commit_callbacks: Commit,
) -> PendingPreferenceChange:
    with django_capture_on_commit_callbacks(execute=True):
        login(alice).post(switch_url(acme_profile), {"users_can_edit_preferences": "off"})
    return PendingPreferenceChange.objects.get()


class TestTheSwitchWaitsForConfirmation:
    def test_switching_editing_off_saves_nothing_until_confirmed(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        bobs_selection: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: Commit,
    ) -> None:
        client = login(alice)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(switch_url(acme_profile), {"users_can_edit_preferences": "off"})

        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True
        assert not SyncRun.objects.exists()
        assert published_runs == []
        pending = PendingPreferenceChange.objects.get()
        assert response["Location"] == change_url(pending)
        response = client.get(change_url(pending))
        assert pending.proposed_by == alice
        assert pending.status == ChangeStatus.READY
        # 28 of bob's contacts came only from his own selection; the appointment keeps 200.
        assert (pending.users_affected, pending.contacts_added, pending.contacts_removed) == (
            1,
            0,
            28,
        )
        content = response.content.decode()
        assert "1 user; no contacts would be added and 28 removed, most for Bob (28)." in content
        assert "Users can edit own preferences: No" in content
        assert "Warning: this removes many contacts" in content  # 28 of 30: above the guard

    def test_the_profile_pages_point_to_the_waiting_change(
        self, login: Login, alice: User, acme_profile: SyncProfile, held: PendingPreferenceChange
    ) -> None:
        client = login(alice)

        for url in (f"/manage/profiles/{acme_profile.code}/", defaults_url(acme_profile)):
            content = client.get(url).content.decode()
            assert "waiting for your confirmation" in content
            assert f'href="{change_url(held)}"' in content

    def test_a_change_that_alters_no_users_values_saves_at_once(
        self, login: Login, alice: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        make_ready(bob_link)  # bob inherits everything: switching changes nothing for him

        response = login(alice).post(
            switch_url(acme_profile), {"users_can_edit_preferences": "off"}
        )

        assert response["Location"] == f"/manage/profiles/{acme_profile.code}/"
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is False
        assert not PendingPreferenceChange.objects.exists()

    def test_apply_saves_the_change_and_queues_catch_up_runs(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        held: PendingPreferenceChange,
        bobs_selection: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: Commit,
    ) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            response = login(alice).post(
                change_url(held, "apply"), {"computation": held.computation}, follow=True
            )

        assert response.redirect_chain[-1][0] == f"/manage/profiles/{acme_profile.code}/"
        assert any("The change was saved" in message for message in messages_of(response))
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is False
        held.refresh_from_db()
        assert (held.status, held.decided_by) == (ChangeStatus.APPLIED, alice)
        run = SyncRun.objects.get()
        assert (run.linked_user_id, run.kind) == (bobs_selection.pk, RunKind.PREFERENCE_CHANGE)
        assert published_runs == [run.pk]
        assert effective_preferences_get(linked_user=bobs_selection).static_selections == ()

    def test_cancel_changes_nothing(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        held: PendingPreferenceChange,
        bobs_selection: LinkedUser,
        published_runs: list[int],
    ) -> None:
        response = login(alice).post(change_url(held, "cancel"), follow=True)

        assert any("nothing was saved" in message for message in messages_of(response))
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True
        held.refresh_from_db()
        assert held.status == ChangeStatus.CANCELLED
        assert not SyncRun.objects.exists()
        # A cancelled change cannot be applied afterwards.
        response = login(alice).post(
            change_url(held, "apply"), {"computation": held.computation}, follow=True
        )
        assert any("already cancelled" in message for message in messages_of(response))
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True

    def test_a_stale_impact_is_computed_again_before_apply(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        held: PendingPreferenceChange,
        bobs_selection: LinkedUser,
        django_capture_on_commit_callbacks: Commit,
    ) -> None:
        # Meanwhile bob adds favourite contacts to his own preferences.
        PersonSyncPreferences.objects.filter(linked_user=bobs_selection).update(
            sync_favourite_contacts=True
        )
        client = login(alice)

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                change_url(held, "apply"), {"computation": held.computation}, follow=True
            )

        assert any("changed since the impact was computed" in m for m in messages_of(response))
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True
        held.refresh_from_db()
        assert held.computation == 2
        assert held.status == ChangeStatus.READY

        # The figures the admin saw first are not the current ones: refused as well.
        client.post(change_url(held, "apply"), {"computation": 1})
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True

        client.post(change_url(held, "apply"), {"computation": 2})
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is False

    @pytest.mark.parametrize(
        "data", [{}, {"computation": "latest"}, {"computation": "0"}, {"computation": "1.5"}]
    )
    def test_bad_input_changes_nothing(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        held: PendingPreferenceChange,
        data: dict[str, str],
    ) -> None:
        response = login(alice).post(change_url(held, "apply"), data, follow=True)

        assert any("Nothing was saved" in message for message in messages_of(response))
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True
        held.refresh_from_db()
        assert held.status == ChangeStatus.READY
        assert not SyncRun.objects.exists()

    @pytest.mark.parametrize(("visitor", "status"), [("bob", 403), ("charlie", 404)])
    def test_a_member_gets_403_and_another_tenant_404(
        self,
        login: Login,
        request: pytest.FixtureRequest,
        acme_profile: SyncProfile,
        held: PendingPreferenceChange,
        visitor: str,
        status: int,
    ) -> None:
        client = login(request.getfixturevalue(visitor))

        assert client.get(change_url(held)).status_code == status
        for action in ("apply", "cancel", "recompute"):
            response = client.post(change_url(held, action), {"computation": 1})
            assert response.status_code == status
        held.refresh_from_db()
        assert held.status == ChangeStatus.READY
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True

    def test_it_requires_login(self, held: PendingPreferenceChange) -> None:
        response = Client().post(change_url(held, "apply"), {"computation": 1})

        assert response.status_code == 302
        held.refresh_from_db()
        assert held.status == ChangeStatus.READY

    def test_the_page_refreshes_while_computing(
        self, login: Login, alice: User, held: PendingPreferenceChange
    ) -> None:
        PendingPreferenceChange.objects.filter(pk=held.pk).update(status=ChangeStatus.COMPUTING)

        content = login(alice).get(change_url(held)).content.decode()

        assert "Working out which contacts" in content
        assert "window.location.reload" in content
        assert "/apply/" not in content


class TestDefaultsWaitForConfirmation:
    def test_overwriting_users_settings_is_held_then_applied(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        bobs_selection: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: Commit,
    ) -> None:
        client = login(alice)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                defaults_url(acme_profile),
                defaults_form(acme_profile, sync_birthdays="off", overwrite="overwrite"),
            )

        overrides = PersonSyncPreferences.objects.get(linked_user=bobs_selection)
        assert overrides.static_selections == [{"id": 7, "name": "Mine"}]
        acme_profile.refresh_from_db()
        assert acme_profile.sync_birthdays is True
        pending = PendingPreferenceChange.objects.get()
        assert pending.users_affected == 2  # alice: birthdays; bob: his selection as well
        content = client.get(change_url(pending)).content.decode()
        assert "Sync contact birthdays: On → Off" in content
        assert "Users&#x27; own settings of these fields are overwritten." in content
        assert "2 users; no contacts would be added and 28 removed, most for Bob (28)." in content

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                change_url(pending, "apply"), {"computation": pending.computation}, follow=True
            )

        assert response.redirect_chain[-1][0] == defaults_url(acme_profile)
        overrides.refresh_from_db()
        assert overrides.static_selections is None
        acme_profile.refresh_from_db()
        assert acme_profile.sync_birthdays is False
        runs = SyncRun.objects.filter(kind=RunKind.PREFERENCE_CHANGE)
        assert len(runs) == 2
        assert sorted(published_runs) == sorted(run.pk for run in runs)

    def test_bad_defaults_are_refused_and_nothing_is_held(
        self, login: Login, alice: User, acme_profile: SyncProfile, bobs_selection: LinkedUser
    ) -> None:
        response = login(alice).post(
            defaults_url(acme_profile),
            defaults_form(acme_profile, sync_birthdays="off", overwrite="everyone"),
        )

        assert response.status_code == 200
        assert response.context["form"].errors["overwrite"]
        assert not PendingPreferenceChange.objects.exists()
        acme_profile.refresh_from_db()
        assert acme_profile.sync_birthdays is True


# --- Nordlys: figures read from the live sandbox -------------------------------------------


@pytest.fixture
def olas_key_customers(
    ola_link: LinkedUser, ingrid_link: LinkedUser, nordlys_profile: SyncProfile, ola: User
) -> dict[str, frozenset[int]]:
    """Ola syncs his own selection (Nøkkelkunder Oslo), and every member is in his mailbox;
    the profile's default is the board (Styret). Returns both selections' members."""
    make_ready(ola_link)
    make_ready(ingrid_link)
    nordlys_profile.static_selections = [BOARD]
    nordlys_profile.mass_delete_max_count = 10
    nordlys_profile.save()
    PersonSyncPreferences.objects.create(linked_user=ola_link, static_selections=[KEY_CUSTOMERS])
    with superoffice_client_for_user(user=ola) as client:
        key_customers = frozenset(selection_members(client=client, selection_id=1))
        board = frozenset(selection_members(client=client, selection_id=4))
    map_persons(ola_link, {pid: ["selection:1"] for pid in key_customers})
    return {"key_customers": key_customers, "board": board}


class TestImpactAgainstSuperOffice:
    def test_the_figures_follow_the_selections_the_switch_takes_away_and_brings(
        self,
        login: Login,
        ingrid: User,
        nordlys_profile: SyncProfile,
        olas_key_customers: dict[str, frozenset[int]],
        django_capture_on_commit_callbacks: Commit,
    ) -> None:
        key_customers, board = olas_key_customers["key_customers"], olas_key_customers["board"]
        assert key_customers
        assert board

        client = login(ingrid)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(switch_url(nordlys_profile), {"users_can_edit_preferences": "off"})

        pending = PendingPreferenceChange.objects.get()
        response = client.get(change_url(pending))
        added = len(board - key_customers)
        removed = len(key_customers - board)
        # Only Ola's values change: Ingrid already uses the profile's.
        assert pending.users_affected == 1
        assert (pending.contacts_added, pending.contacts_removed) == (added, removed)
        [row] = pending.per_user
        assert (row["name"], row["synced"], row["large"]) == ("Ola Berg", len(key_customers), True)
        expected = (
            f"1 user; {added} contacts would be added and {removed} removed, "
            f"most for Ola Berg ({removed})."
        )
        assert expected in response.content.decode()
        nordlys_profile.refresh_from_db()
        assert nordlys_profile.users_can_edit_preferences is True

    def test_superoffice_unreachable_offers_retry_and_apply_anyway(
        self,
        login: Login,
        ingrid: User,
        ola_link: LinkedUser,
        nordlys_profile: SyncProfile,
        olas_key_customers: dict[str, frozenset[int]],
        superoffice: SandboxControl,
        published_runs: list[int],
        django_capture_on_commit_callbacks: Commit,
    ) -> None:
        # The board is newly added for Ola: his catch-up run would read it.
        superoffice.set_faults(error_rate=1.0, error_statuses=[500])
        client = login(ingrid)

        with django_capture_on_commit_callbacks(execute=True):
            client.post(switch_url(nordlys_profile), {"users_can_edit_preferences": "off"})

        pending = PendingPreferenceChange.objects.get()
        assert pending.status == ChangeStatus.FAILED
        content = client.get(change_url(pending)).content.decode()
        assert "SuperOffice could not be reached" in content
        assert "Try again" in content
        assert "Apply without knowing the impact" in content
        # Without "anyway", a change of unknown impact is not applied.
        client.post(change_url(pending, "apply"), {"computation": pending.computation})
        nordlys_profile.refresh_from_db()
        assert nordlys_profile.users_can_edit_preferences is True

        superoffice.clear_faults()
        with django_capture_on_commit_callbacks(execute=True):
            client.post(change_url(pending, "recompute"))
        pending.refresh_from_db()
        assert (pending.status, pending.computation) == (ChangeStatus.READY, 2)

        superoffice.set_faults(error_rate=1.0, error_statuses=[500])
        with django_capture_on_commit_callbacks(execute=True):
            client.post(change_url(pending, "recompute"))
        pending.refresh_from_db()
        assert pending.status == ChangeStatus.FAILED

        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                change_url(pending, "apply"), {"computation": pending.computation, "anyway": "on"}
            )

        nordlys_profile.refresh_from_db()
        assert nordlys_profile.users_can_edit_preferences is False
        run = SyncRun.objects.get()
        assert (run.linked_user_id, run.kind) == (ola_link.pk, RunKind.PREFERENCE_CHANGE)
        assert published_runs == [run.pk]

    def test_users_who_keep_their_own_settings_are_not_counted(
        self,
        login: Login,
        ingrid: User,
        nordlys_profile: SyncProfile,
        olas_key_customers: dict[str, frozenset[int]],
        django_capture_on_commit_callbacks: Commit,
    ) -> None:
        # Keeping users' own settings: Ola keeps his own list, only Ingrid's list changes.
        with django_capture_on_commit_callbacks(execute=True):
            login(ingrid).post(
                defaults_url(nordlys_profile),
                defaults_form(nordlys_profile, static_selections="Styret\nNøkkelkunder Oslo"),
            )

        pending = PendingPreferenceChange.objects.get()
        assert pending.status == ChangeStatus.READY
        assert [row["name"] for row in pending.per_user] == ["Ingrid Haugen"]
        # Her catch-up run reads only the newly added selection, as the engine does.
        key_customers = olas_key_customers["key_customers"]
        assert (pending.contacts_added, pending.contacts_removed) == (len(key_customers), 0)
