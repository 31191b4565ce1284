"""Portal pages about syncing: a user's overview, credentials and runs; the admin's Link
Users and Status pages, and the decisions the mass-delete guard asks for.

Tenant rows are reached only through profiles.access (404 to other tenants, 403 to
members lacking the right).
"""

from __future__ import annotations

import csv
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from preferences.forms import effective_summary
from preferences.selectors import effective_preferences_get
from profiles.access import (
    get_linked_row_for_user,
    get_linked_user_for_user,
    get_profile_for_admin,
    get_tenant_for_admin,
)
from profiles.forms import AddressBookMoveForm, CredentialsForm, DomainLinkForm, LinkUserForm
from profiles.models import (
    LinkedUser,
    MicrosoftConnection,
    SyncProfile,
    TargetAccount,
    TargetKind,
    User,
)
from profiles.selectors import linked_users_for_profile
from profiles.services import linked_user_link
from syncengine.credentials import (
    AddressBookNotMoved,
    CredentialsNotSaved,
    linked_user_link_with_credentials,
    linked_users_link_by_domain,
    target_addressbook_move,
    target_addressbooks_list,
    target_credentials_save,
)
from syncengine.forms import HeldDecisionForm
from syncengine.microsoft_views import link_users_page as microsoft_link_users_page
from syncengine.models import HeldDecision, HeldDeletion, RunKind, SyncRun
from syncengine.orchestration import sync_run_request
from syncengine.performing import held_deletions_confirm
from syncengine.readiness import link_waiting_for
from syncengine.selectors import (
    STATUS_SORTS,
    held_deletion_describe,
    held_deletion_open_get,
    held_deletions_pending_for_tenant,
    linkable_associates,
    linked_user_overview_get,
    run_as_json,
    runs_for_linked_user,
    status_rows_for_tenant,
)
from syncengine.superoffice.reads import AssociateInfo


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


# --- the user portal --------------------------------------------------------------------------


@login_required
def overview(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_linked_user_for_user(user=_user(request), code=code)
    return render(
        request,
        "syncengine/overview.html",
        {
            "linked_user": linked_user,
            "overview": linked_user_overview_get(linked_user=linked_user),
            "runs": runs_for_linked_user(linked_user=linked_user, limit=5),
            "held": held_deletion_open_get(linked_user=linked_user),
            "summary": effective_summary(effective_preferences_get(linked_user=linked_user)),
            "microsoft": MicrosoftConnection.objects.filter(profile=linked_user.profile).first(),
        },
    )


@require_POST
@login_required
def sync_now(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_linked_user_for_user(user=_user(request), code=code)
    run = sync_run_request(linked_user_id=linked_user.pk, kind=RunKind.REGULAR)
    if run is None:
        reasons = link_waiting_for(linked_user) or ["The first sync has not been queued yet."]
        messages.error(request, "Nothing was queued: " + " ".join(reasons))
    else:
        messages.success(request, "A sync is queued; you can follow it below.")
    return redirect("syncengine:overview", code=linked_user.code)


@login_required
def credentials(request: HttpRequest, code: UUID) -> HttpResponse:
    """Edit credentials: the CardDAV user name and app password, tested before saving;
    for Microsoft 365, the mailbox and (delegated access) Connect Microsoft 365."""
    linked_user = get_linked_user_for_user(user=_user(request), code=code)
    account = TargetAccount.objects.filter(linked_user=linked_user).first()
    if linked_user.profile.target_kind == TargetKind.MICROSOFT_GRAPH:
        connection, _ = MicrosoftConnection.objects.get_or_create(profile=linked_user.profile)
        return render(
            request,
            "syncengine/microsoft/mailbox.html",
            {
                "linked_user": linked_user,
                "account": account,
                "connection": connection,
                "waiting_for": link_waiting_for(linked_user),
            },
        )
    form = CredentialsForm(
        request.POST or None,
        has_password=bool(account and account.secret),
        initial={"username": account.username if account else linked_user.email},
    )
    if request.method == "POST":
        if form.is_valid():
            try:
                target_credentials_save(
                    linked_user=linked_user,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password"],
                )
            except CredentialsNotSaved as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, "The mailbox accepted the credentials; they were saved.")
                return redirect("syncengine:overview", code=linked_user.code)
        messages.error(request, "The credentials were not saved; see the messages below.")
    return render(
        request,
        "syncengine/credentials.html",
        {"linked_user": linked_user, "account": account, "form": form},
    )


@login_required
def credentials_move(request: HttpRequest, code: UUID) -> HttpResponse:
    """Move to another address book the stored credentials reach; what we wrote in the
    current one is taken out first."""
    linked_user = get_linked_user_for_user(user=_user(request), code=code)
    account = TargetAccount.objects.filter(linked_user=linked_user).first()
    problem = ""
    try:
        books = target_addressbooks_list(linked_user=linked_user)
    except AddressBookNotMoved as error:
        books, problem = [], str(error)
    current = account.collection_url.rstrip("/") if account else ""
    form = AddressBookMoveForm(
        request.POST or None,
        choices=[(book.url, book.label) for book in books if book.url.rstrip("/") != current],
    )
    if request.method == "POST" and form.is_valid():
        try:
            moved = target_addressbook_move(
                linked_user=linked_user, collection_url=form.cleaned_data["collection_url"]
            )
        except AddressBookNotMoved as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, moved.message)
            return redirect("syncengine:credentials", code=linked_user.code)
    return render(
        request,
        "syncengine/credentials_move.html",
        {"linked_user": linked_user, "account": account, "form": form, "problem": problem},
    )


@login_required
def run_list(request: HttpRequest, code: UUID) -> HttpResponse:
    linked_user = get_linked_user_for_user(user=_user(request), code=code)
    return render(
        request,
        "syncengine/run_list.html",
        {"linked_user": linked_user, "runs": runs_for_linked_user(linked_user=linked_user)},
    )


@require_GET
@login_required
def run_list_json(request: HttpRequest, code: UUID) -> JsonResponse:
    """What the run-history script polls for live progress."""
    linked_user = get_linked_user_for_user(user=_user(request), code=code)
    overview = linked_user_overview_get(linked_user=linked_user)
    return JsonResponse(
        {
            "runs": [run_as_json(run) for run in runs_for_linked_user(linked_user=linked_user)],
            "next_sync_at": overview.next_sync_at.isoformat() if overview.next_sync_at else None,
            "waiting_for": overview.waiting_for,
        }
    )


@login_required
def run_detail(request: HttpRequest, code: UUID) -> HttpResponse:
    run = get_linked_row_for_user(
        user=_user(request),
        rows=SyncRun.objects.select_related("linked_user__profile", "held_deletion"),
        code=code,
    )
    context = {"run": run, "linked_user": run.linked_user}
    return render(request, "syncengine/run_detail.html", context)


# --- deletions the mass-delete guard held -------------------------------------------------------


@login_required
def held_detail(request: HttpRequest, code: UUID) -> HttpResponse:
    """The persons a held deletion would delete, their sources, and Apply / Keep (or who
    decided what, and when)."""
    user = _user(request)
    held = get_linked_row_for_user(
        user=user, rows=HeldDeletion.objects.select_related("linked_user__profile"), code=code
    )
    return render(
        request,
        "syncengine/held_deletion.html",
        {
            "held": held,
            "linked_user": held.linked_user,
            "described": held_deletion_describe(held=held, viewer=user),
        },
    )


@require_POST
@login_required
def held_decide(request: HttpRequest, code: UUID) -> HttpResponse:
    user = _user(request)
    held = get_linked_row_for_user(user=user, rows=HeldDeletion.objects.all(), code=code)
    form = HeldDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to apply the deletions or to keep the contacts.")
        return redirect("syncengine:held", code=held.code)
    decision = HeldDecision(form.cleaned_data["decision"])
    if not held_deletions_confirm(held=held, decision=decision, decided_by=user):
        messages.error(request, "This was decided already; nothing was changed.")
    elif decision == HeldDecision.APPLY:
        messages.success(
            request, f"{len(held.person_ids)} deletions are being applied in the background."
        )
    else:
        messages.success(
            request, f"The {len(held.person_ids)} contacts are kept; later runs leave them."
        )
    return redirect("syncengine:held", code=held.code)


# --- the admin portal ---------------------------------------------------------------------


def _associate_label(associate: AssociateInfo) -> str:
    return f"{associate.full_name} <{associate.email}>"


def _link_choices(profile: SyncProfile, associates: list[AssociateInfo]) -> list[tuple[int, str]]:
    linked = set(
        LinkedUser.objects.alive()
        .filter(tenant_id=profile.tenant_id)
        .values_list("associate_id", flat=True)
    )
    return [
        (associate.associate_id, _associate_label(associate))
        for associate in associates
        if associate.can_be_linked and associate.associate_id not in linked
    ]


def _link_one(
    request: HttpRequest, profile: SyncProfile, form: LinkUserForm, associates: list[AssociateInfo]
) -> LinkedUser | None:
    associate = next(
        info for info in associates if info.associate_id == form.cleaned_data["associate_id"]
    )
    try:
        if form.cleaned_data["password"]:
            return linked_user_link_with_credentials(
                profile=profile,
                associate_id=associate.associate_id,
                email=associate.email,
                full_name=associate.full_name,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
        return linked_user_link(
            profile=profile,
            associate_id=associate.associate_id,
            email=associate.email,
            full_name=associate.full_name,
        )
    except (ValidationError, CredentialsNotSaved) as error:
        message = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        form.add_error(None, message)
        return None


@login_required
def link_users(request: HttpRequest, code: UUID) -> HttpResponse:
    """Link Users: the profile's links, and the tenant's SuperOffice users to link."""
    user = _user(request)
    profile = get_profile_for_admin(user=user, code=code)
    if profile.target_kind == TargetKind.MICROSOFT_GRAPH:
        return microsoft_link_users_page(request, profile)
    associates: list[AssociateInfo] = []
    superoffice_problem = ""
    try:
        associates = linkable_associates(user=user)
    except ValidationError as error:
        superoffice_problem = " ".join(error.messages)
    is_post = request.method == "POST"
    form = LinkUserForm(
        request.POST if is_post else None, choices=_link_choices(profile, associates)
    )
    if is_post:
        if form.is_valid() and (linked := _link_one(request, profile, form, associates)):
            messages.success(
                request,
                f"{linked} was linked with tested mailbox credentials."
                if form.cleaned_data["password"]
                else f"{linked} was linked. They enter their mailbox credentials after signing in.",
            )
            return redirect("syncengine:link-users", code=profile.code)
        messages.error(request, "Nobody was linked; see the messages below.")
    show_deleted = request.GET.get("deleted") == "1"
    links = linked_users_for_profile(profile=profile, include_deleted=show_deleted).select_related(
        "user", "target_account"
    )
    return render(
        request,
        "syncengine/link_users.html",
        {
            "profile": profile,
            "form": form,
            "domain_form": DomainLinkForm(),
            "links": [(link, link_waiting_for(link)) for link in links],
            "show_deleted": show_deleted,
            "superoffice_problem": superoffice_problem,
        },
    )


@require_POST
@login_required
def link_users_by_domain(request: HttpRequest, code: UUID) -> HttpResponse:
    user = _user(request)
    profile = get_profile_for_admin(user=user, code=code)
    form = DomainLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["domain"]))
        return redirect("syncengine:link-users", code=profile.code)
    domain = form.cleaned_data["domain"]
    try:
        linked = linked_users_link_by_domain(
            profile=profile, associates=linkable_associates(user=user), domain=domain
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("syncengine:link-users", code=profile.code)
    if linked:
        names = ", ".join(str(link) for link in linked)
        messages.success(request, f"{len(linked)} users of @{domain} were linked: {names}.")
    else:
        messages.error(request, f"No active SuperOffice user of @{domain} is left to link.")
    return redirect("syncengine:link-users", code=profile.code)


def _status_sort(request: HttpRequest) -> tuple[str, bool]:
    sort = request.GET.get("sort", "name")
    return (sort if sort in STATUS_SORTS else "name"), request.GET.get("order") == "desc"


@login_required
def status(request: HttpRequest) -> HttpResponse:
    """Every linked user of the tenant: last and next sync, and what is wrong, in words."""
    tenant = get_tenant_for_admin(user=_user(request))
    sort, descending = _status_sort(request)
    return render(
        request,
        "syncengine/status.html",
        {
            "tenant": tenant,
            "rows": status_rows_for_tenant(tenant=tenant, sort=sort, descending=descending),
            "held_deletions": held_deletions_pending_for_tenant(tenant=tenant),
            "sort": sort,
            "descending": descending,
            "columns": [
                ("name", "User"),
                ("email", "E-mail"),
                ("profile", "Profile"),
                ("state", "Status"),
                ("last_sync", "Last sync"),
                ("next_sync", "Next sync"),
            ],
        },
    )


def _csv_safe(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting like a formula would run as one in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@login_required
def status_csv(request: HttpRequest) -> HttpResponse:
    tenant = get_tenant_for_admin(user=_user(request))
    sort, descending = _status_sort(request)
    stamp = timezone.now().strftime("%Y-%m-%d")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="synchronizer-status-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["User", "E-mail", "Profile", "Mailbox user", "Status", "Last sync", "Next sync", "Problem"]
    )
    for row in status_rows_for_tenant(tenant=tenant, sort=sort, descending=descending):
        writer.writerow(
            [
                _csv_safe(value)
                for value in (
                    row.linked_user,
                    row.linked_user.email,
                    row.linked_user.profile,
                    row.mailbox_user,
                    row.state,
                    row.last_sync_at.isoformat() if row.last_sync_at else "",
                    row.next_sync_at.isoformat() if row.next_sync_at else "",
                    row.problem,
                )
            ]
        )
    return response
