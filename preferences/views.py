"""Person Synchronization pages: a user's own preferences, and a profile's defaults.

Selection names are checked against SuperOffice with the signed-in person's own token
while the form validates; saving goes through preferences.services, whose signal queues
the catch-up run of exactly the users whose effective values changed. An administrator's
change that alters users' effective values is held (preferences.impact) until its impact
is shown and confirmed.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from preferences.access import get_pending_change_for_admin
from preferences.forms import (
    ChangeDecisionForm,
    PersonSyncPreferencesForm,
    ProfileDefaultsForm,
    SelectionResolver,
    UsersCanEditForm,
    change_summary,
    effective_summary,
    proposal_describe,
)
from preferences.impact import (
    ProfileChange,
    preference_change_apply,
    preference_change_cancel,
    preference_change_recompute,
    profile_change_submit,
)
from preferences.models import PendingPreferenceChange, PersonSyncPreferences
from preferences.selectors import (
    StaticSelection,
    effective_preferences_get,
    pending_change_waiting,
)
from preferences.services import PreferencesLocked, person_sync_preferences_update
from profiles.access import get_linked_user_for_user, get_profile_for_admin
from profiles.models import User
from syncengine.models import RunKind
from syncengine.orchestration import sync_run_request
from syncengine.selectors import static_selections_resolve


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _resolver(user: User) -> SelectionResolver:
    def resolve(names: list[str]) -> list[StaticSelection]:
        return static_selections_resolve(user=user, names=names)

    return resolve


@login_required
def person_sync_edit(request: HttpRequest, code: UUID) -> HttpResponse:
    """Edit preferences → Person Synchronization, for the linked user (or an admin)."""
    user = _user(request)
    linked_user = get_linked_user_for_user(user=user, code=code)
    profile = linked_user.profile
    overrides = PersonSyncPreferences.objects.filter(linked_user=linked_user).first()
    form = PersonSyncPreferencesForm(
        request.POST or None, profile=profile, overrides=overrides, resolver=_resolver(user)
    )
    if request.method == "POST":
        if not profile.users_can_edit_preferences:
            messages.error(
                request,
                "Your administrator sets the Person Synchronization preferences for this "
                "profile; nothing was changed.",
            )
            return redirect("preferences:person-sync", code=linked_user.code)
        if form.is_valid():
            try:
                person_sync_preferences_update(
                    linked_user=linked_user,
                    changes=form.changes(),
                    edited_by=user,
                )
            except PreferencesLocked as error:
                messages.error(request, " ".join(error.messages))
                return redirect("preferences:person-sync", code=linked_user.code)
            if form.cleaned_data["resync_now"]:
                sync_run_request(linked_user_id=linked_user.pk, kind=RunKind.HOUSEKEEPING)
            messages.success(
                request,
                "Your Person Synchronization preferences were saved. A catch-up run brings "
                "what changed to your address book.",
            )
            return redirect("syncengine:overview", code=linked_user.code)
        messages.error(request, "Nothing was saved; see the messages below.")
    return render(
        request,
        "preferences/person_sync.html",
        {
            "linked_user": linked_user,
            "profile": profile,
            "form": form,
            "read_only": not profile.users_can_edit_preferences,
            "summary": effective_summary(effective_preferences_get(linked_user=linked_user)),
        },
    )


@login_required
def profile_person_sync_edit(request: HttpRequest, code: UUID) -> HttpResponse:
    """Manage Profile > Customize system > Show Settings (SuperOffice CRM) > Person
    Synchronization: the profile's defaults."""
    user = _user(request)
    profile = get_profile_for_admin(user=user, code=code)
    form = ProfileDefaultsForm(request.POST or None, profile=profile, resolver=_resolver(user))
    if request.method == "POST":
        if form.is_valid():
            change = ProfileChange(
                defaults=form.changes(),
                overwrite_user_settings=form.overwrite_user_settings,
                resync_now=form.cleaned_data["resync_now"],
            )
            try:
                pending = profile_change_submit(profile=profile, proposed_by=user, change=change)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                if pending is not None:
                    return redirect("preferences:change", code=pending.code)
                messages.success(
                    request,
                    "The Person Synchronization defaults were saved"
                    + (
                        " and every user's own settings overwritten."
                        if form.overwrite_user_settings
                        else "; users' own settings were kept."
                    ),
                )
                return redirect("preferences:profile-person-sync", code=profile.code)
        else:
            messages.error(request, "Nothing was saved; see the messages below.")
    return render(
        request,
        "preferences/profile_person_sync.html",
        {"profile": profile, "form": form, "waiting": pending_change_waiting(profile=profile)},
    )


@require_POST
@login_required
def profile_users_can_edit(request: HttpRequest, code: UUID) -> HttpResponse:
    user = _user(request)
    profile = get_profile_for_admin(user=user, code=code)
    form = UsersCanEditForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether users can edit their own preferences.")
        return redirect("profiles:manage", code=profile.code)
    pending = profile_change_submit(
        profile=profile, proposed_by=user, change=ProfileChange(users_can_edit=form.allowed)
    )
    if pending is not None:
        return redirect("preferences:change", code=pending.code)
    messages.success(
        request,
        "Users can now edit their own preferences."
        if form.allowed
        else "Users now see the profile's preferences and cannot change them.",
    )
    return redirect("profiles:manage", code=profile.code)


# --- an administrator's change held for confirmation -------------------------------------


def _back_to(pending: PendingPreferenceChange) -> HttpResponse:
    """Where the change was made: Manage Profile for the switch, else the defaults page."""
    if ProfileChange.from_json(pending.proposal).users_can_edit is not None:
        return redirect("profiles:manage", code=pending.profile.code)
    return redirect("preferences:profile-person-sync", code=pending.profile.code)


@login_required
def change_detail(request: HttpRequest, code: UUID) -> HttpResponse:
    """The impact of a held change, and Apply / Cancel (progress while it is computed)."""
    pending = get_pending_change_for_admin(user=_user(request), code=code)
    return render(
        request,
        "preferences/change_detail.html",
        {
            "pending": pending,
            "profile": pending.profile,
            "summary": change_summary(pending),
            "description": proposal_describe(pending),
        },
    )


@require_POST
@login_required
def change_apply(request: HttpRequest, code: UUID) -> HttpResponse:
    user = _user(request)
    pending = get_pending_change_for_admin(user=user, code=code)
    form = ChangeDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was saved: this confirmation was not understood.")
        return redirect("preferences:change", code=pending.code)
    try:
        preference_change_apply(
            pending=pending,
            decided_by=user,
            seen_computation=form.cleaned_data["computation"],
            anyway=form.cleaned_data["anyway"],
        )
    except ValidationError as error:  # ImpactStale too: a new computation is queued
        messages.error(request, " ".join(error.messages))
        return redirect("preferences:change", code=pending.code)
    messages.success(
        request,
        "The change was saved. Catch-up runs bring it to the users' address books.",
    )
    return _back_to(pending)


@require_POST
@login_required
def change_cancel(request: HttpRequest, code: UUID) -> HttpResponse:
    user = _user(request)
    pending = get_pending_change_for_admin(user=user, code=code)
    try:
        preference_change_cancel(pending=pending, decided_by=user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("preferences:change", code=pending.code)
    messages.success(request, "The change was discarded; nothing was saved.")
    return _back_to(pending)


@require_POST
@login_required
def change_recompute(request: HttpRequest, code: UUID) -> HttpResponse:
    pending = get_pending_change_for_admin(user=_user(request), code=code)
    try:
        preference_change_recompute(pending=pending)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("preferences:change", code=pending.code)
