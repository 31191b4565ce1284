from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from profiles.models import LinkedUser, User


class RunKind(models.TextChoices):
    FIRST = "first", "First run"
    HOUSEKEEPING = "housekeeping", "Housekeeping"
    PREFERENCE_CHANGE = "preference_change", "Preference change"
    REGULAR = "regular", "Regular"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    NEEDS_CONFIRMATION = "needs_confirmation", "Needs confirmation"


FINISHED_STATUSES: frozenset[str] = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.PARTIAL,
        RunStatus.FAILED,
        RunStatus.SKIPPED,
        RunStatus.NEEDS_CONFIRMATION,
    }
)
# A run queued or working: a request merges into it, or waits behind it.
OPEN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class SyncRun(models.Model):
    """One run of the sync engine for one linked user: what it did, and how far it got."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    linked_user = models.ForeignKey(LinkedUser, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=20, choices=RunKind.choices)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    # What the run was asked to evaluate beyond its kind: for a preference change, the
    # effective values before the first change and after the latest ({"old": …, "new": …}).
    trigger = models.JSONField(default=dict, blank=True)

    queued_at = models.DateTimeField(auto_now_add=True)
    # When its task was last handed to the broker, or, for a run waiting to be resumed,
    # when its delayed task falls due; a queued run whose message may be lost (a broker
    # restart) is handed over again.
    published_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker claimed the run (0 while it never started). Each claim and
    # each take-over is a conditional update that moves it on by one, so it is also the
    # claim's token: a delivery changes the run only while the attempt is still its own.
    attempt = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    deleted_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # What the run cost, for operators' metrics.
    superoffice_requests = models.PositiveIntegerField(default=0)
    target_requests = models.PositiveIntegerField(default=0)

    # [{"source": "selection:12", "message": "…"}]: sources that could not be read.
    warnings = models.JSONField(default=list, blank=True)
    # Person ids whose deletion the mass-delete guard held back in this run.
    held_deletions = models.JSONField(default=list, blank=True)
    # The decision those deletions wait for, or were decided by (syncengine.held).
    held_deletion = models.ForeignKey(
        "HeldDeletion", on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    # What comparing the mapping with the mailbox's own listing found and the run healed:
    # {"recreated": 2, "overwritten": 1, …, "notes": ["…"]} (syncengine.healing).
    healed = models.JSONField(default=dict, blank=True)
    # Written for a person to read: what went wrong and what to do about it.
    error_text = models.TextField(blank=True)

    class Meta:
        ordering = ["-queued_at"]
        indexes = [
            models.Index(fields=["linked_user", "-queued_at"], name="syncrun_user_recent"),
            models.Index(fields=["status", "queued_at"], name="syncrun_status_queued"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress_done__lte=models.F("progress_total")),
                name="syncrun_progress_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run of {self.linked_user} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 100 if self.is_finished else 0
        return min(100, self.progress_done * 100 // self.progress_total)


class PersonMapping(models.Model):
    """One SuperOffice person written to one linked user's mailbox: exactly one row each.

    `provenance` lists the sources that name the person ("appointments", "selection:12",
    "favourite_companies", "favourite_persons"); when it empties, the contact is deleted.
    """

    linked_user = models.ForeignKey(
        LinkedUser, on_delete=models.CASCADE, related_name="person_mappings"
    )
    person_id = models.PositiveIntegerField()
    provenance = models.JSONField(default=list)
    # Our mark on the target object (CardDAV UID, Graph extended property, Google clientData).
    target_uid = models.CharField(max_length=200)
    # Where the object lives on the target (CardDAV href, Graph/Google id) and its version.
    target_ref = models.CharField(max_length=500, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    # A hash of the payload last written, so unchanged persons cause no write.
    content_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["linked_user", "person_id"], name="mapping_one_per_user_and_person"
            ),
            models.UniqueConstraint(
                fields=["linked_user", "target_uid"], name="mapping_one_per_user_and_uid"
            ),
        ]

    def __str__(self) -> str:
        return f"Person {self.person_id} for {self.linked_user}"


class SyncSchedule(models.Model):
    """When a linked user's next regular and housekeeping runs are due.

    Created when the user's first run is queued; the dispatcher reads only these rows.
    The first due times carry a per-user offset, so users do not all run in the same
    minute, and each later time moves on by exactly one interval.
    """

    linked_user = models.OneToOneField(
        LinkedUser, on_delete=models.CASCADE, related_name="sync_schedule"
    )
    next_regular_at = models.DateTimeField()
    next_housekeeping_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["next_regular_at"], name="schedule_regular_due"),
            models.Index(fields=["next_housekeeping_at"], name="schedule_housekeeping_due"),
        ]

    def __str__(self) -> str:
        return f"Schedule of {self.linked_user}"


class HeldDecision(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    APPLY = "apply", "Apply the deletions"
    KEEP = "keep", "Keep these contacts"
    # Later runs found nothing left to hold: the persons came back to a source, or went
    # with a number of deletions the guard lets through.
    LAPSED = "lapsed", "No longer needed"


class HeldDeletion(models.Model):
    """The decision the mass-delete guard asks of a user or their admin: delete these
    contacts, or keep them. A linked user has at most one open decision; later runs that
    hold deletions update it instead of asking again (syncengine.held)."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    linked_user = models.ForeignKey(
        LinkedUser, on_delete=models.CASCADE, related_name="held_deletions"
    )
    # The persons whose deletion waits, as the latest run that held them saw them.
    person_ids = models.JSONField(default=list)
    # Each person's sources before they lost them: {"123": ["selection:12", …]}, and how
    # each source is named to a person: {"selection:12": "Selection “Key customers”"}.
    sources = models.JSONField(default=dict, blank=True)
    source_labels = models.JSONField(default=dict, blank=True)
    last_run = models.ForeignKey(
        SyncRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision = models.CharField(
        max_length=20, choices=HeldDecision.choices, default=HeldDecision.PENDING
    )
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as words too: the name stays on the record if the account goes.
    decided_by_name = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # When the decision was carried out in the mailbox and the mapping, or lapsed; an
    # open decision has none.
    closed_at = models.DateTimeField(null=True, blank=True)
    # Why carrying the decision out failed for now (the next run tries again).
    error_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["linked_user"],
                condition=Q(closed_at__isnull=True),
                name="held_deletion_one_open_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{len(self.person_ids)} held deletions of {self.linked_user} ({self.decision})"

    @property
    def is_pending(self) -> bool:
        return self.decision == HeldDecision.PENDING
