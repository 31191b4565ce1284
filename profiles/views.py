"""The admin portal's profile pages: list, create, manage, delete, and the links' actions.

Every view reaches tenant rows through profiles.access: other tenants get 404, members
without SuperOffice administrator rights 403.
"""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from preferences.selectors import pending_change_waiting
from profiles.access import get_linked_user_for_admin, get_profile_for_admin, get_tenant_for_admin
from profiles.forms import PermanentDeleteForm, ProfileForm
from profiles.models import MicrosoftConnection, SyncProfile, TargetKind, User
from profiles.selectors import linked_users_for_profile, profiles_for_tenant
from profiles.services import (
    linked_user_delete,
    linked_user_set_enabled,
    linked_user_undelete,
    profile_create,
    profile_delete,
    profile_undelete,
    profile_update,
)
from profiles.services import (
    profile_delete_permanently as profile_delete_permanently_service,
)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@login_required
def profile_list(request: HttpRequest) -> HttpResponse:
    tenant = get_tenant_for_admin(user=_user(request))
    show_deleted = request.GET.get("deleted") == "1"
    profiles = profiles_for_tenant(tenant=tenant, include_deleted=show_deleted).order_by(
        "deleted_at", "name"
    )
    return render(
        request,
        "profiles/profile_list.html",
        {"tenant": tenant, "profiles": profiles, "show_deleted": show_deleted},
    )


@login_required
def profile_new(request: HttpRequest) -> HttpResponse:
    tenant = get_tenant_for_admin(user=_user(request))
    form = ProfileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        profile = profile_create(
            tenant=tenant,
            name=form.cleaned_data["name"],
            target_kind=form.cleaned_data["target_kind"],
            carddav_url=form.cleaned_data["carddav_url"],
        )
        next_step = (
            "Now connect its Microsoft 365 organisation."
            if profile.target_kind == TargetKind.MICROSOFT_GRAPH
            else "Now link its users."
        )
        messages.success(request, f"The profile “{profile}” was created. {next_step}")
        return redirect("profiles:manage", code=profile.code)
    return render(request, "profiles/profile_new.html", {"form": form})


@login_required
def profile_manage(request: HttpRequest, code: UUID) -> HttpResponse:
    """Manage Profile: the mailbox system, the users' rights, and the way to the settings."""
    profile = get_profile_for_admin(user=_user(request), code=code)
    form = ProfileForm(request.POST or None, instance=SyncProfile.objects.get(pk=profile.pk))
    if request.method == "POST":
        if form.is_valid():
            try:
                profile_update(
                    profile=profile,
                    name=form.cleaned_data["name"],
                    carddav_url=form.cleaned_data["carddav_url"],
                    target_kind=form.cleaned_data["target_kind"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, "The profile was saved.")
                return redirect("profiles:manage", code=profile.code)
        messages.error(request, "The profile was not saved; see the messages below.")
    links = linked_users_for_profile(profile=profile).select_related("user")
    return render(
        request,
        "profiles/profile_manage.html",
        {
            "profile": profile,
            "form": form,
            "links": links,
            "waiting": pending_change_waiting(profile=profile),
            "microsoft": MicrosoftConnection.objects.filter(profile=profile).first(),
        },
    )


@login_required
def profile_customize(request: HttpRequest, code: UUID) -> HttpResponse:
    """Customize system: the two systems of the profile, each with its settings."""
    profile = get_profile_for_admin(user=_user(request), code=code)
    return render(request, "profiles/profile_customize.html", {"profile": profile})


@require_POST
@login_required
def profile_remove(request: HttpRequest, code: UUID) -> HttpResponse:
    profile = get_profile_for_admin(user=_user(request), code=code)
    profile_delete(profile=profile)
    messages.success(
        request,
        f"The profile “{profile}” was deleted: its users are not synced any more. "
        "Un-delete it to carry on where it stopped.",
    )
    return redirect("profiles:list")


@require_POST
@login_required
def profile_restore(request: HttpRequest, code: UUID) -> HttpResponse:
    profile = get_profile_for_admin(user=_user(request), code=code, include_deleted=True)
    profile_undelete(profile=profile)
    messages.success(request, f"The profile “{profile}” was restored; its users sync again.")
    return redirect("profiles:manage", code=profile.code)


@login_required
def profile_delete_permanently(request: HttpRequest, code: UUID) -> HttpResponse:
    profile = get_profile_for_admin(user=_user(request), code=code, include_deleted=True)
    if not profile.is_deleted:
        messages.error(
            request, "Delete the profile first; a deleted profile can be removed for good."
        )
        return redirect("profiles:manage", code=profile.code)
    form = PermanentDeleteForm(request.POST or None, profile=profile)
    if request.method == "POST" and form.is_valid():
        name = profile.name
        profile_delete_permanently_service(profile=profile)
        messages.success(request, f"The profile “{name}” was deleted permanently.")
        return redirect("profiles:list")
    return render(
        request, "profiles/profile_delete_permanently.html", {"profile": profile, "form": form}
    )


# --- a linked user's actions ----------------------------------------------------------------


@require_POST
@login_required
def link_disable(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_linked_user_for_admin(user=_user(request), code=code)
    linked_user_set_enabled(linked_user=linked_user, enabled=False)
    messages.success(request, f"{linked_user} is disabled: nothing is synced for them.")
    return redirect("syncengine:link-users", code=linked_user.profile.code)


@require_POST
@login_required
def link_enable(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_linked_user_for_admin(user=_user(request), code=code)
    linked_user_set_enabled(linked_user=linked_user, enabled=True)
    messages.success(request, f"{linked_user} is enabled again.")
    return redirect("syncengine:link-users", code=linked_user.profile.code)


@require_POST
@login_required
def link_remove(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_linked_user_for_admin(user=_user(request), code=code)
    linked_user_delete(linked_user=linked_user)
    messages.success(
        request,
        f"{linked_user} was deleted from the profile. Un-delete restores them as they were.",
    )
    return redirect("syncengine:link-users", code=linked_user.profile.code)


@require_POST
@login_required
def link_restore(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_linked_user_for_admin(user=_user(request), code=code, include_deleted=True)
    try:
        linked_user_undelete(linked_user=linked_user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{linked_user} was restored.")
    return redirect("syncengine:link-users", code=linked_user.profile.code)
