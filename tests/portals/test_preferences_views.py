"""Person Synchronization pages (preferences/views.py): a user's own preferences, the
profile's defaults with or without overwriting users' settings, and *users can edit own
preferences*. Selection names are checked against the live sandbox with the signed-in
person's own token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from preferences.forms import SWITCHES
from preferences.models import ChangeStatus, PendingPreferenceChange, PersonSyncPreferences
from preferences.selectors import effective_preferences_get
from profiles.models import LinkedUser, SyncProfile, User
from syncengine.models import RunKind, SyncRun
from tests.portals.conftest import make_ready
from tests.portals.pages import defaults_form, messages_of
from tests.preferences.impact_task import impact_task_runs_at_once  # noqa: F401

Login = Callable[[User], Client]


def user_form(**changes: str) -> dict[str, str]:
    data = {"selections_mode": "inherit", "static_selections": ""}
    data.update(dict.fromkeys(SWITCHES, "inherit"))
    data.update(changes)
    return data


def overrides_of(linked_user: LinkedUser) -> PersonSyncPreferences | None:
    return PersonSyncPreferences.objects.filter(linked_user=linked_user).first()


# --- a user's own Person Synchronization --------------------------------------------------


class TestUserPreferences:
    def url(self, linked_user: LinkedUser) -> str:
        return f"/links/{linked_user.code}/preferences/"

    def test_inherited_values_are_shown_as_such(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        response = login(bob).get(self.url(bob_link))

        assert response.status_code == 200
        content = response.content.decode()
        assert "As the profile (Off)" in content  # favourites default off
        assert "As the profile (On)" in content  # field choices default on
        assert response.context["form"].initial["sync_favourite_contacts"] == "inherit"

    def test_an_override_is_saved_and_queues_the_catch_up_run(
        self,
        login: Login,
        bob: User,
        bob_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: Callable[..., Any],
    ) -> None:
        make_ready(bob_link)

        with django_capture_on_commit_callbacks(execute=True):
            response = login(bob).post(
                self.url(bob_link), user_form(sync_favourite_contacts="on"), follow=True
            )

        assert response.redirect_chain[-1][0] == f"/links/{bob_link.code}/"
        overrides = overrides_of(bob_link)
        assert overrides is not None
        assert overrides.sync_favourite_contacts is True
        assert overrides.sync_birthdays is None  # still inherited
        run = SyncRun.objects.get(linked_user=bob_link)
        assert run.kind == RunKind.PREFERENCE_CHANGE
        assert published_runs == [run.pk]
        assert any("were saved" in message for message in messages_of(response))

    def test_a_field_goes_back_to_inheriting(
        self, login: Login, bob: User, bob_link: LinkedUser, acme_profile: SyncProfile
    ) -> None:
        PersonSyncPreferences.objects.create(linked_user=bob_link, sync_birthdays=False)
        client = login(bob)
        assert client.get(self.url(bob_link)).context["form"].initial["sync_birthdays"] == "off"

        client.post(self.url(bob_link), user_form(sync_birthdays="inherit"))

        overrides = overrides_of(bob_link)
        assert overrides is not None
        assert overrides.sync_birthdays is None
        effective = effective_preferences_get(linked_user=bob_link)
        assert effective.sync_birthdays is acme_profile.sync_birthdays
        assert "sync_birthdays" in effective.inherited

    def test_a_full_resync_can_be_asked_for(
        self, login: Login, bob: User, bob_link: LinkedUser, published_runs: list[int]
    ) -> None:
        make_ready(bob_link)

        login(bob).post(self.url(bob_link), user_form(sync_title="off", resync_now="on"))

        run = SyncRun.objects.get(linked_user=bob_link)
        assert RunKind.HOUSEKEEPING in {run.kind, *run.trigger.get("merged_kinds", [])}

    @pytest.mark.parametrize(
        "bad",
        [
            {"sync_favourite_contacts": "maybe"},
            {"selections_mode": "sometimes"},
            {"sync_title": ""},
        ],
    )
    def test_bad_input_changes_nothing(
        self, login: Login, bob: User, bob_link: LinkedUser, bad: dict[str, str]
    ) -> None:
        make_ready(bob_link)
        response = login(bob).post(self.url(bob_link), user_form(sync_birthdays="off", **bad))

        assert response.status_code == 200
        assert response.context["form"].errors
        assert overrides_of(bob_link) is None
        assert not SyncRun.objects.exists()

    def test_selections_that_cannot_be_checked_save_nothing(
        self, login: Login, bob: User, bob_link: LinkedUser
    ) -> None:
        # Bob never signed in: we hold no token to ask SuperOffice with.
        response = login(bob).post(
            self.url(bob_link),
            user_form(selections_mode="own", static_selections="VIP", sync_title="off"),
        )

        assert response.status_code == 200
        assert "could not be checked with SuperOffice" in response.content.decode()
        assert overrides_of(bob_link) is None

    def test_read_only_when_the_admin_does_not_allow_editing(
        self, login: Login, bob: User, bob_link: LinkedUser, acme_profile: SyncProfile
    ) -> None:
        acme_profile.users_can_edit_preferences = False
        acme_profile.save()
        client = login(bob)

        page = client.get(self.url(bob_link))
        assert page.context["read_only"] is True
        assert b"Your administrator sets these preferences" in page.content
        assert b'<form method="post" novalidate class="preferences">' not in page.content

        response = client.post(self.url(bob_link), user_form(sync_title="off"), follow=True)
        assert overrides_of(bob_link) is None
        assert any("nothing was changed" in message for message in messages_of(response))

    def test_an_admin_can_edit_a_users_preferences(
        self, login: Login, alice: User, bob_link: LinkedUser
    ) -> None:
        login(alice).post(self.url(bob_link), user_form(sync_department="off"))

        overrides = overrides_of(bob_link)
        assert overrides is not None
        assert overrides.sync_department is False

    def test_another_member_gets_404(self, login: Login, bob: User, alice_link: LinkedUser) -> None:
        client = login(bob)
        assert client.get(self.url(alice_link)).status_code == 404
        assert client.post(self.url(alice_link), user_form(sync_title="off")).status_code == 404
        assert overrides_of(alice_link) is None

    def test_another_tenant_gets_404(
        self, login: Login, charlie: User, bob_link: LinkedUser
    ) -> None:
        client = login(charlie)
        assert client.get(self.url(bob_link)).status_code == 404
        assert client.post(self.url(bob_link), user_form(sync_title="off")).status_code == 404
        assert overrides_of(bob_link) is None

    def test_it_requires_login(self, client: Client, bob_link: LinkedUser) -> None:
        response = client.get(self.url(bob_link))

        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


class TestUserSelectionsAgainstSuperOffice:
    """Ola, an ordinary user of the sandbox's tenant, types selection names."""

    def url(self, linked_user: LinkedUser) -> str:
        return f"/links/{linked_user.code}/preferences/"

    def test_a_static_selection_is_accepted_with_its_id(
        self, login: Login, ola: User, ola_link: LinkedUser
    ) -> None:
        response = login(ola).post(
            self.url(ola_link),
            user_form(selections_mode="own", static_selections="  nøkkelkunder   oslo \n"),
        )

        assert response.status_code == 302
        overrides = overrides_of(ola_link)
        assert overrides is not None
        assert overrides.static_selections == [{"id": 1, "name": "Nøkkelkunder Oslo"}]

    def test_a_dynamic_selection_is_refused_with_the_reason_and_nothing_is_saved(
        self, login: Login, ola: User, ola_link: LinkedUser
    ) -> None:
        response = login(ola).post(
            self.url(ola_link),
            user_form(
                selections_mode="own",
                static_selections="Nøkkelkunder Oslo\nAktive kunder (dynamisk)",
                sync_favourite_contacts="on",
            ),
        )

        assert response.status_code == 200
        errors = response.context["form"].errors["static_selections"]
        assert errors == [
            "“Aktive kunder (dynamisk)” is a dynamic selection: its members follow search "
            "criteria. Only static selections can be synced."
        ]
        assert errors[0] in response.content.decode()
        assert overrides_of(ola_link) is None

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("VIP", "2 selections are called “VIP”: ids 11, 12"),
            ("Salg Q3 - pipeline", "is a selection of sales, not persons"),
            ("Finnes ikke", "No selection is called “Finnes ikke”."),
        ],
    )
    def test_other_refusals_say_why(
        self, login: Login, ola: User, ola_link: LinkedUser, name: str, reason: str
    ) -> None:
        response = login(ola).post(
            self.url(ola_link), user_form(selections_mode="own", static_selections=name)
        )

        assert reason in " ".join(response.context["form"].errors["static_selections"])
        assert overrides_of(ola_link) is None

    def test_an_empty_own_list_overrides_the_profiles_selections(
        self, login: Login, ola: User, ola_link: LinkedUser, nordlys_profile: SyncProfile
    ) -> None:
        nordlys_profile.static_selections = [{"id": 1, "name": "Nøkkelkunder Oslo"}]
        nordlys_profile.save()

        login(ola).post(self.url(ola_link), user_form(selections_mode="own", static_selections=""))

        assert effective_preferences_get(linked_user=ola_link).static_selections == ()


# --- the profile's defaults ------------------------------------------------------------


class TestProfileDefaults:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/customize/superoffice/person-synchronization/"

    def test_the_breadcrumb_mirrors_the_products_path(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).get(self.url(acme_profile))

        assert response.status_code == 200
        trail = [
            "Profiles",
            "Manage Profile: Acme mailboxes",
            "Customize system",
            "Show Settings (SuperOffice CRM)",
            "Person Synchronization",
        ]
        content = response.content.decode()
        breadcrumb = content.split('aria-label="Breadcrumb"', 1)[1].split("</nav>", 1)[0]
        positions = [breadcrumb.index(step) for step in trail]
        assert positions == sorted(positions)
        assert 'aria-current="page">Person Synchronization' in breadcrumb
        assert "Don&#x27;t overwrite user settings" in content
        assert response.context["form"]["overwrite"].value() == "keep"

    def confirm(self, client: Client, commit: Callable[..., Any]) -> Any:
        """Apply the change held for confirmation (its impact computed at once here)."""
        pending = PendingPreferenceChange.objects.get(status=ChangeStatus.READY)
        with commit(execute=True):
            return client.post(
                f"/manage/preference-changes/{pending.code}/apply/",
                {"computation": pending.computation},
                follow=True,
            )

    def test_without_overwrite_users_keep_their_own_values(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        bob_link: LinkedUser,
        alice_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: Callable[..., Any],
    ) -> None:
        make_ready(bob_link)
        make_ready(alice_link)
        PersonSyncPreferences.objects.create(linked_user=bob_link, sync_birthdays=True)
        client = login(alice)

        with django_capture_on_commit_callbacks(execute=True):
            client.post(self.url(acme_profile), defaults_form(acme_profile, sync_birthdays="off"))
        acme_profile.refresh_from_db()
        assert acme_profile.sync_birthdays is True  # held until confirmed
        response = self.confirm(client, django_capture_on_commit_callbacks)

        acme_profile.refresh_from_db()
        assert acme_profile.sync_birthdays is False
        overrides = overrides_of(bob_link)
        assert overrides is not None
        assert overrides.sync_birthdays is True
        # Only alice's effective values changed: only she gets a catch-up run.
        assert list(SyncRun.objects.values_list("linked_user_id", flat=True)) == [alice_link.pk]
        assert len(published_runs) == 1
        assert any("The change was saved" in m for m in messages_of(response))

    def test_overwrite_clears_users_own_values(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        bob_link: LinkedUser,
        published_runs: list[int],
        django_capture_on_commit_callbacks: Callable[..., Any],
    ) -> None:
        make_ready(bob_link)
        PersonSyncPreferences.objects.create(
            linked_user=bob_link, sync_title=False, sync_birthdays=True
        )
        client = login(alice)

        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                self.url(acme_profile),
                defaults_form(acme_profile, sync_birthdays="off", overwrite="overwrite"),
            )
        self.confirm(client, django_capture_on_commit_callbacks)

        overrides = overrides_of(bob_link)
        assert overrides is not None
        assert (overrides.sync_title, overrides.sync_birthdays) == (None, None)
        effective = effective_preferences_get(linked_user=LinkedUser.objects.get(pk=bob_link.pk))
        assert effective.sync_title is True
        assert effective.sync_birthdays is False
        run = SyncRun.objects.get(linked_user=bob_link)
        assert run.kind == RunKind.PREFERENCE_CHANGE

    def test_a_full_resync_of_every_user_can_be_asked_for(
        self,
        login: Login,
        alice: User,
        acme_profile: SyncProfile,
        bob_link: LinkedUser,
        alice_link: LinkedUser,
    ) -> None:
        make_ready(bob_link)
        make_ready(alice_link)

        login(alice).post(self.url(acme_profile), defaults_form(acme_profile, resync_now="on"))

        runs = SyncRun.objects.filter(kind=RunKind.HOUSEKEEPING)
        assert set(runs.values_list("linked_user_id", flat=True)) == {alice_link.pk, bob_link.pk}

    def test_selections_that_cannot_be_checked_save_nothing(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).post(
            self.url(acme_profile),
            defaults_form(acme_profile, static_selections="VIP", sync_favourite_contacts="on"),
        )

        assert response.status_code == 200
        assert "could not be checked with SuperOffice" in response.content.decode()
        acme_profile.refresh_from_db()
        assert acme_profile.sync_favourite_contacts is False

    def test_bad_overwrite_choice_changes_nothing(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        response = login(alice).post(
            self.url(acme_profile),
            defaults_form(acme_profile, sync_favourite_contacts="on", overwrite="everything"),
        )

        assert response.status_code == 200
        assert response.context["form"].errors["overwrite"]
        acme_profile.refresh_from_db()
        assert acme_profile.sync_favourite_contacts is False

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        client = login(bob)
        assert client.get(self.url(acme_profile)).status_code == 403
        response = client.post(
            self.url(acme_profile), defaults_form(acme_profile, sync_favourite_contacts="on")
        )
        assert response.status_code == 403
        acme_profile.refresh_from_db()
        assert acme_profile.sync_favourite_contacts is False

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        response = login(charlie).post(
            self.url(acme_profile), defaults_form(acme_profile, sync_favourite_contacts="on")
        )

        assert response.status_code == 404
        acme_profile.refresh_from_db()
        assert acme_profile.sync_favourite_contacts is False

    def test_it_requires_login(self, client: Client, acme_profile: SyncProfile) -> None:
        assert client.get(self.url(acme_profile)).status_code == 302


class TestProfileDefaultsAgainstSuperOffice:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/customize/superoffice/person-synchronization/"

    def test_static_selections_are_stored_by_id(
        self, login: Login, ingrid: User, nordlys_profile: SyncProfile
    ) -> None:
        login(ingrid).post(
            self.url(nordlys_profile),
            defaults_form(nordlys_profile, static_selections="Nøkkelkunder Oslo\nStyret"),
        )

        nordlys_profile.refresh_from_db()
        assert nordlys_profile.static_selections == [
            {"id": 1, "name": "Nøkkelkunder Oslo"},
            {"id": 4, "name": "Styret"},
        ]

    def test_a_combined_selection_is_refused_and_nothing_is_saved(
        self, login: Login, ingrid: User, nordlys_profile: SyncProfile
    ) -> None:
        response = login(ingrid).post(
            self.url(nordlys_profile),
            defaults_form(
                nordlys_profile,
                static_selections="Nøkkelkunder + Partnere",
                sync_favourite_contacts="on",
            ),
        )

        assert "is a combined selection" in response.content.decode()
        nordlys_profile.refresh_from_db()
        assert nordlys_profile.static_selections == []
        assert nordlys_profile.sync_favourite_contacts is False


# --- users can edit own preferences --------------------------------------------------------


class TestUsersCanEdit:
    def url(self, profile: SyncProfile) -> str:
        return f"/manage/profiles/{profile.code}/users-can-edit/"

    def test_it_switches_editing_off_and_on(
        self, login: Login, alice: User, acme_profile: SyncProfile
    ) -> None:
        client = login(alice)

        response = client.post(self.url(acme_profile), {"users_can_edit_preferences": "off"})
        assert response["Location"] == f"/manage/profiles/{acme_profile.code}/"
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is False

        client.post(self.url(acme_profile), {"users_can_edit_preferences": "on"})
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True

    @pytest.mark.parametrize("data", [{}, {"users_can_edit_preferences": "perhaps"}])
    def test_bad_input_changes_nothing(
        self, login: Login, alice: User, acme_profile: SyncProfile, data: dict[str, str]
    ) -> None:
        response = login(alice).post(self.url(acme_profile), data, follow=True)

        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True
        assert any("Choose whether" in message for message in messages_of(response))

    def test_member_gets_403(self, login: Login, bob: User, acme_profile: SyncProfile) -> None:
        response = login(bob).post(self.url(acme_profile), {"users_can_edit_preferences": "off"})

        assert response.status_code == 403
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True

    def test_other_tenant_gets_404(
        self, login: Login, charlie: User, acme_profile: SyncProfile
    ) -> None:
        response = login(charlie).post(
            self.url(acme_profile), {"users_can_edit_preferences": "off"}
        )

        assert response.status_code == 404
        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True

    def test_it_requires_login(self, client: Client, acme_profile: SyncProfile) -> None:
        client.post(self.url(acme_profile), {"users_can_edit_preferences": "off"})

        acme_profile.refresh_from_db()
        assert acme_profile.users_can_edit_preferences is True
