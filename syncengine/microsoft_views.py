"""Microsoft 365 pages: an administrator connects the organisation from the profile page
and links users to its mailboxes; with delegated access each user connects their own
mailbox from their page.

Microsoft sends people back to fixed addresses (registered with the app): after the
organisation's consent, after the administrator's sign-in that confirms the organisation,
and after a user's sign-in to their own mailbox. So which profile or link a callback is
about, the state it must carry and the organisation waiting to be confirmed wait in the
session. Tenant rows are reached only through profiles.access.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from profiles.access import get_own_linked_user_for_user, get_profile_for_admin
from profiles.forms import MicrosoftAccessForm, MicrosoftFolderForm
from profiles.models import MicrosoftAccess, SyncProfile, User
from profiles.selectors import linked_users_for_profile
from syncengine.microsoft_connection import MicrosoftRefused, microsoft_connection_get
from syncengine.microsoft_linking import (
    MailboxMatch,
    mailbox_link,
    mailbox_matches_list,
    mailboxes_link_all,
)
from syncengine.microsoft_mailbox import mailbox_connect_finish, mailbox_connect_start
from syncengine.microsoft_organisation import (
    organisation_access_set,
    organisation_consent_finish,
    organisation_consent_start,
    organisation_folder_rename,
    organisation_sign_in_finish,
    organisation_sign_in_start,
)
from syncengine.readiness import link_waiting_for
from syncengine.selectors import linkable_associates
from syncengine.superoffice.reads import AssociateInfo

CONSENT_SESSION_KEY = "microsoft_admin_consent"
SIGN_IN_SESSION_KEY = "microsoft_admin_sign_in"
MAILBOX_SESSION_KEY = "microsoft_mailbox_flow"


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


ORGANISATION_AGAIN = "Start again from the profile page."
MAILBOX_AGAIN = "Start again with “Connect Microsoft 365”."


def _not_started(request: HttpRequest, *, what: str, again: str, to: str) -> HttpResponse:
    """A callback with nothing waiting for it in this session (opened by hand, or twice)."""
    messages.error(
        request,
        f"No {what} was started from here in this session; nothing was changed. {again}",
    )
    return redirect(to)


def _organisation_pending(
    request: HttpRequest, key: str
) -> tuple[dict[str, Any], SyncProfile | None]:
    """What a connection step left in the session for this callback, and its profile (the
    admin's own: others' answer 404); no profile when nothing was started here."""
    pending: dict[str, Any] = request.session.pop(key, None) or {}
    if not pending:
        return pending, None
    return pending, get_profile_for_admin(user=_user(request), code=UUID(pending["profile"]))


def _people(count: int) -> str:
    return "1 user has" if count == 1 else f"{count} users have"


def _back_to_profile(profile: SyncProfile) -> HttpResponse:
    return redirect(reverse("profiles:manage", kwargs={"code": profile.code}) + "#microsoft")


# --- the organisation (admin consent) ---------------------------------------------------------


@require_POST
@login_required
def organisation_connect(request: HttpRequest, code: UUID) -> HttpResponse:
    profile = get_profile_for_admin(user=_user(request), code=code)
    redirect_uri = request.build_absolute_uri(reverse("syncengine:microsoft-consent-callback"))
    try:
        start = organisation_consent_start(profile=profile, redirect_uri=redirect_uri)
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
        return _back_to_profile(profile)
    request.session[CONSENT_SESSION_KEY] = {"profile": str(profile.code), "state": start.state}
    return redirect(start.url)


def _connected(request: HttpRequest, profile: SyncProfile) -> HttpResponse:
    messages.success(
        request,
        "Microsoft 365 is connected: Synchronizer can now reach the organisation's "
        "mailboxes. Link the users next.",
    )
    return _back_to_profile(profile)


@require_GET
@login_required
def organisation_consent_callback(request: HttpRequest) -> HttpResponse:
    """Microsoft sends the administrator back here, consent given or not. Its answer is not
    signed, so the organisation it names is confirmed by the administrator's sign-in there
    (organisation_sign_in_callback) before anything is stored."""
    pending, profile = _organisation_pending(request, CONSENT_SESSION_KEY)
    if profile is None:
        return _not_started(
            request,
            what="connection to Microsoft 365",
            again=ORGANISATION_AGAIN,
            to="profiles:list",
        )
    user = _user(request)
    redirect_uri = request.build_absolute_uri(reverse("syncengine:microsoft-sign-in-callback"))
    try:
        answer = organisation_consent_finish(
            profile=profile, user=user, query=request.GET.dict(), expected_state=pending["state"]
        )
        if answer.connected:
            return _connected(request, profile)
        flow = organisation_sign_in_start(
            profile=profile, directory_id=answer.directory_id, redirect_uri=redirect_uri
        )
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
        return _back_to_profile(profile)
    request.session[SIGN_IN_SESSION_KEY] = {
        "profile": str(profile.code),
        "directory": answer.directory_id,
        "flow": flow,
    }
    return redirect(str(flow["auth_uri"]))


@require_GET
@login_required
def organisation_sign_in_callback(request: HttpRequest) -> HttpResponse:
    """The administrator signed in to the organisation that consented (or did not)."""
    pending, profile = _organisation_pending(request, SIGN_IN_SESSION_KEY)
    if profile is None:
        return _not_started(
            request,
            what="connection to Microsoft 365",
            again=ORGANISATION_AGAIN,
            to="profiles:list",
        )
    user = _user(request)
    try:
        organisation_sign_in_finish(
            profile=profile,
            user=user,
            directory_id=pending["directory"],
            flow=pending["flow"],
            query=request.GET.dict(),
        )
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
        return _back_to_profile(profile)
    return _connected(request, profile)


@require_POST
@login_required
def organisation_folder(request: HttpRequest, code: UUID) -> HttpResponse:
    profile = get_profile_for_admin(user=_user(request), code=code)
    form = MicrosoftFolderForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["folder_name"]))
        return _back_to_profile(profile)
    try:
        connection = organisation_folder_rename(
            profile=profile, folder_name=form.cleaned_data["folder_name"]
        )
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"Contacts go into the folder “{connection.folder_name}”.")
    return _back_to_profile(profile)


@require_POST
@login_required
def organisation_access(request: HttpRequest, code: UUID) -> HttpResponse:
    profile = get_profile_for_admin(user=_user(request), code=code)
    form = MicrosoftAccessForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how Synchronizer reaches the mailboxes.")
        return _back_to_profile(profile)
    try:
        connection = organisation_access_set(profile=profile, access=form.cleaned_data["access"])
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(
            request,
            "Each user now connects their own mailbox on their page."
            if connection.access == MicrosoftAccess.DELEGATED
            else "The organisation's administrator connects every mailbox at once.",
        )
    return _back_to_profile(profile)


# --- Link Users on a Microsoft 365 profile ------------------------------------------------------


def _associates(user: User) -> tuple[list[AssociateInfo], str]:
    try:
        return linkable_associates(user=user), ""
    except ValidationError as error:
        return [], " ".join(error.messages)


def link_users_page(request: HttpRequest, profile: SyncProfile) -> HttpResponse:
    """Link Users of a Microsoft 365 profile: the SuperOffice users not linked yet beside
    their mailbox in the organisation, and the users linked already."""
    connection = microsoft_connection_get(profile=profile)
    associates, problem = _associates(_user(request))
    matches: list[MailboxMatch] = []
    if associates and (connection.is_connected or connection.access == MicrosoftAccess.DELEGATED):
        try:
            matches = mailbox_matches_list(profile=profile, associates=associates)
        except MicrosoftRefused as refused:
            problem = str(refused)
    show_deleted = request.GET.get("deleted") == "1"
    links = linked_users_for_profile(profile=profile, include_deleted=show_deleted).select_related(
        "user", "target_account"
    )
    context: dict[str, Any] = {
        "profile": profile,
        "connection": connection,
        "delegated": connection.access == MicrosoftAccess.DELEGATED,
        "matches": matches,
        "matching": sum(1 for match in matches if match.mailbox is not None),
        "links": [(link, link_waiting_for(link)) for link in links],
        "show_deleted": show_deleted,
        "superoffice_problem": problem,
    }
    return render(request, "syncengine/microsoft/link_users.html", context)


def _associate_id(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("associate_id", ""))
    except ValueError:
        return None


@require_POST
@login_required
def link_one(request: HttpRequest, code: UUID) -> HttpResponse:
    user = _user(request)
    profile = get_profile_for_admin(user=user, code=code)
    associates, problem = _associates(user)
    associate_id = _associate_id(request)
    if problem or associate_id is None:
        messages.error(request, problem or "Choose a SuperOffice user to link.")
        return redirect("syncengine:link-users", code=profile.code)
    try:
        linked = mailbox_link(profile=profile, associates=associates, associate_id=associate_id)
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
    else:
        account = getattr(linked, "target_account", None)
        messages.success(
            request,
            f"{linked} was linked to the mailbox {account.username}."
            if account is not None and account.remote_user_id
            else f"{linked} was linked. They connect their Microsoft 365 mailbox on their page.",
        )
    return redirect("syncengine:link-users", code=profile.code)


@require_POST
@login_required
def link_all(request: HttpRequest, code: UUID) -> HttpResponse:
    user = _user(request)
    profile = get_profile_for_admin(user=user, code=code)
    associates, problem = _associates(user)
    if problem:
        messages.error(request, problem)
        return redirect("syncengine:link-users", code=profile.code)
    try:
        result = mailboxes_link_all(profile=profile, associates=associates)
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
        return redirect("syncengine:link-users", code=profile.code)
    if result.linked:
        names = ", ".join(str(link) for link in result.linked)
        count = len(result.linked)
        linked = "1 user was" if count == 1 else f"{count} users were"
        messages.success(request, f"{linked} linked: {names}.")
    else:
        messages.error(request, "Nobody was left to link.")
    if result.without_mailbox:
        names = ", ".join(a.full_name or a.email for a in result.without_mailbox)
        messages.warning(
            request,
            f"{_people(len(result.without_mailbox))} no mailbox with their e-mail in the "
            f"organisation; not linked: {names}.",
        )
    return redirect("syncengine:link-users", code=profile.code)


# --- a user's own mailbox (delegated access) ----------------------------------------------------


@require_POST
@login_required
def mailbox_connect(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_own_linked_user_for_user(user=_user(request), code=code)
    redirect_uri = request.build_absolute_uri(reverse("syncengine:microsoft-mailbox-callback"))
    try:
        flow = mailbox_connect_start(linked_user=linked_user, redirect_uri=redirect_uri)
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
        return redirect("syncengine:credentials", code=linked_user.code)
    request.session[MAILBOX_SESSION_KEY] = {"link": str(linked_user.code), "flow": flow}
    return redirect(str(flow["auth_uri"]))


@require_GET
@login_required
def mailbox_callback(request: HttpRequest) -> HttpResponse:
    pending: dict[str, Any] = request.session.pop(MAILBOX_SESSION_KEY, None) or {}
    if not pending:
        return _not_started(request, what="mailbox connection", again=MAILBOX_AGAIN, to="home")
    linked_user = get_own_linked_user_for_user(user=_user(request), code=UUID(pending["link"]))
    try:
        account = mailbox_connect_finish(
            linked_user=linked_user, flow=pending["flow"], query=request.GET.dict()
        )
    except MicrosoftRefused as refused:
        messages.error(request, str(refused))
        return redirect("syncengine:credentials", code=linked_user.code)
    messages.success(request, f"Your Microsoft 365 mailbox {account.username} is connected.")
    return redirect("syncengine:overview", code=linked_user.code)
