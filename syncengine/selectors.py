"""What the portals read about runs: a link's overview, its history, and the tenant's status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery

from preferences.selectors import StaticSelection
from profiles.models import LinkedUser, TargetAccount, Tenant, User
from profiles.selectors import linked_users_for_tenant
from syncengine.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    HeldDecision,
    HeldDeletion,
    RunStatus,
    SyncRun,
    SyncSchedule,
)
from syncengine.readiness import link_waiting_for
from syncengine.superoffice.client import superoffice_client_for_user
from syncengine.superoffice.errors import SelectionRefused, SuperOfficeError
from syncengine.superoffice.reads import AssociateInfo, associates_list, persons_by_ids
from syncengine.superoffice.selections import selection_find_static

RECENT_RUNS = 20
# The Status page's columns a visitor can sort by, and the CSV's columns.
STATUS_SORTS = ("name", "email", "profile", "state", "last_sync", "next_sync")


# --- one link ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOverview:
    """Everything the user portal's overview shows about one link."""

    linked_user: LinkedUser
    account: TargetAccount | None
    waiting_for: list[str]
    last_run: SyncRun | None
    open_runs: list[SyncRun]
    next_sync_at: datetime | None

    @property
    def mailbox_connected(self) -> bool:
        return self.account is not None and self.account.verified_at is not None


def linked_user_overview_get(*, linked_user: LinkedUser) -> LinkOverview:
    runs = SyncRun.objects.filter(linked_user=linked_user)
    schedule = SyncSchedule.objects.filter(linked_user=linked_user).first()
    return LinkOverview(
        linked_user=linked_user,
        account=TargetAccount.objects.filter(linked_user=linked_user).first(),
        waiting_for=link_waiting_for(linked_user),
        last_run=runs.filter(status__in=FINISHED_STATUSES).order_by("-finished_at").first(),
        open_runs=list(runs.filter(status__in=OPEN_STATUSES).order_by("queued_at")),
        next_sync_at=schedule.next_regular_at if schedule else None,
    )


def runs_for_linked_user(*, linked_user: LinkedUser, limit: int = RECENT_RUNS) -> list[SyncRun]:
    runs = SyncRun.objects.filter(linked_user=linked_user).select_related("held_deletion")
    return list(runs.order_by("-queued_at")[:limit])


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def run_as_json(run: SyncRun) -> dict[str, Any]:
    """A run as the run-history page's script polls it."""
    return {
        "code": str(run.code),
        "kind": run.get_kind_display(),
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished": run.is_finished,
        "progress_done": run.progress_done,
        "progress_total": run.progress_total,
        "progress_percent": run.progress_percent,
        "queued_at": _when(run.queued_at),
        "started_at": _when(run.started_at),
        "finished_at": _when(run.finished_at),
        "created": run.created_count,
        "updated": run.updated_count,
        "deleted": run.deleted_count,
        "unchanged": run.unchanged_count,
        "failed": run.failed_count,
        # Only while the run asks for a decision; a run that held the same persons again,
        # or whose deletions were decided, asks for nothing.
        "held_deletions": len(run.held_deletions)
        if run.status == RunStatus.NEEDS_CONFIRMATION
        else 0,
        "error_text": run.error_text,
        "warnings": [str(warning.get("message", "")) for warning in run.warnings],
    }


# --- held deletions ------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldPerson:
    person_id: int
    name: str
    # How each source that named the person before they lost it is called.
    sources: list[str]


@dataclass(frozen=True)
class HeldDeletions:
    held: HeldDeletion
    persons: list[HeldPerson]
    # Why names are missing, when SuperOffice could not be asked.
    names_unavailable: str
    # The runs that held these deletions, newest first.
    runs: list[SyncRun]


def held_deletion_open_get(*, linked_user: LinkedUser) -> HeldDeletion | None:
    """The link's held deletion not carried out yet, if any."""
    return HeldDeletion.objects.filter(linked_user=linked_user, closed_at__isnull=True).first()


def held_deletion_describe(*, held: HeldDeletion, viewer: User) -> HeldDeletions:
    """The persons of a held deletion with the sources they came from, named from
    SuperOffice with the viewer's token (a person deleted there keeps only their id)."""
    person_ids = sorted(held.person_ids)
    names: dict[int, str] = {}
    unavailable = ""
    if person_ids:
        try:
            with superoffice_client_for_user(user=viewer) as client:
                records = persons_by_ids(client=client, person_ids=person_ids)
            names = {person_id: record.full_name for person_id, record in records.items()}
        except SuperOfficeError as error:
            unavailable = f"Names could not be read from SuperOffice: {error}"
    labels = held.source_labels
    return HeldDeletions(
        held=held,
        persons=[
            HeldPerson(
                person_id=person_id,
                name=names.get(person_id, ""),
                sources=[labels.get(key, key) for key in held.sources.get(str(person_id), [])],
            )
            for person_id in person_ids
        ],
        names_unavailable=unavailable,
        runs=list(held.runs.order_by("-queued_at")[:RECENT_RUNS]),
    )


def held_deletions_pending_for_tenant(*, tenant: Tenant) -> QuerySet[HeldDeletion]:
    """Undecided held deletions in live links of the tenant, newest first."""
    return (
        HeldDeletion.objects.filter(
            linked_user__in=linked_users_for_tenant(tenant=tenant),
            decision=HeldDecision.PENDING,
            closed_at__isnull=True,
        )
        .select_related("linked_user__profile")
        .order_by("-updated_at")
    )


# --- the tenant's Status page -----------------------------------------------------------


@dataclass(frozen=True)
class StatusRow:
    linked_user: LinkedUser
    mailbox_user: str
    last_run: SyncRun | None
    next_sync_at: datetime | None
    state: str  # "ok", "waiting", "attention", "disabled"
    problem: str  # in words; empty when all is well
    # Deletions the mass-delete guard holds until someone decides.
    held: HeldDeletion | None = None

    @property
    def last_sync_at(self) -> datetime | None:
        return self.last_run.finished_at if self.last_run else None


def _problem(
    linked_user: LinkedUser, last_run: SyncRun | None, held: HeldDeletion | None
) -> tuple[str, str]:
    waiting = link_waiting_for(linked_user)
    if not linked_user.is_enabled:
        return "disabled", " ".join(waiting)
    if waiting:
        return "waiting", " ".join(waiting)
    if held is not None:
        return "attention", (
            f"{len(held.person_ids)} deletions wait for a decision "
            "(the mass-delete guard held them)."
        )
    if last_run is None:
        return "ok", ""
    if last_run.status in (RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.PARTIAL):
        words = [last_run.error_text] + [str(w.get("message", "")) for w in last_run.warnings]
        return "attention", " ".join(word for word in words if word) or (
            f"The last run {last_run.get_status_display().lower()}."
        )
    return "ok", ""


def _sort_key(sort: str) -> Any:
    def key(row: StatusRow) -> tuple[Any, ...]:
        name = str(row.linked_user).casefold()
        if sort == "email":
            return (row.linked_user.email.casefold(), name)
        if sort == "profile":
            return (row.linked_user.profile.name.casefold(), name)
        if sort == "state":
            return (row.state != "attention", row.state, name)
        if sort in ("last_sync", "next_sync"):
            moment = row.last_sync_at if sort == "last_sync" else row.next_sync_at
            # Never-synced rows last.
            return (moment is None, moment.timestamp() if moment else 0.0, name)
        return (name,)

    return key


def status_rows_for_tenant(
    *, tenant: Tenant, sort: str = "name", descending: bool = False
) -> list[StatusRow]:
    """One row per live linked user of the tenant, with last and next sync and the error."""
    finished = SyncRun.objects.filter(
        linked_user_id=OuterRef("pk"), status__in=FINISHED_STATUSES
    ).order_by("-finished_at")
    live_links = linked_users_for_tenant(tenant=tenant)
    last_run_ids: dict[int, int | None] = dict(
        live_links.annotate(last_run_id=Subquery(finished.values("pk")[:1])).values_list(
            "pk", "last_run_id"
        )
    )
    runs = SyncRun.objects.in_bulk([run_id for run_id in last_run_ids.values() if run_id])
    pending = {h.linked_user_id: h for h in held_deletions_pending_for_tenant(tenant=tenant)}
    rows = []
    for link in live_links.select_related("target_account", "sync_schedule"):
        run_id = last_run_ids.get(link.pk)
        last_run = runs.get(run_id) if run_id else None
        account = getattr(link, "target_account", None)
        schedule = getattr(link, "sync_schedule", None)
        held = pending.get(link.pk)
        state, problem = _problem(link, last_run, held)
        rows.append(
            StatusRow(
                linked_user=link,
                mailbox_user=account.username if account else "",
                last_run=last_run,
                next_sync_at=schedule.next_regular_at if schedule else None,
                state=state,
                problem=problem,
                held=held,
            )
        )
    if sort not in STATUS_SORTS:
        sort = "name"
    return sorted(rows, key=_sort_key(sort), reverse=descending)


# --- SuperOffice lookups for the portals' forms -----------------------------------------------


def static_selections_resolve(*, user: User, names: list[str]) -> list[StaticSelection]:
    """Each name's static selection, found with the user's own token.

    Raises ValidationError with one message per refused name (the exact reason), or one
    message when SuperOffice could not be asked at all.
    """
    if not names:
        return []
    found: list[StaticSelection] = []
    refused: list[str] = []
    try:
        with superoffice_client_for_user(user=user) as client:
            for name in names:
                try:
                    info = selection_find_static(client=client, name=name)
                except SelectionRefused as refusal:
                    refused.append(refusal.reason)
                    continue
                selection = StaticSelection(id=info.selection_id, name=info.name)
                if selection.id not in {known.id for known in found}:
                    found.append(selection)
    except SuperOfficeError as error:
        raise ValidationError(
            f"The selections could not be checked with SuperOffice: {error}"
        ) from error
    if refused:
        raise ValidationError(refused)
    return found


def linkable_associates(*, user: User) -> list[AssociateInfo]:
    """The tenant's SuperOffice users, read with the administrator's own token.

    Raises ValidationError when SuperOffice could not be asked.
    """
    try:
        with superoffice_client_for_user(user=user) as client:
            return associates_list(client=client)
    except SuperOfficeError as error:
        raise ValidationError(f"The users could not be read from SuperOffice: {error}") from error
