from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from profiles.models import LinkedUser, SyncProfile, User


class PersonSyncPreferences(models.Model):
    """A linked user's own Person Synchronization values.

    Every field is either an override or NULL, which means "inherit the profile's
    default": inheriting is a real state, distinct from any value.
    """

    linked_user = models.OneToOneField(
        LinkedUser, on_delete=models.CASCADE, related_name="person_sync_preferences"
    )
    static_selections = models.JSONField(null=True, blank=True)
    sync_favourite_company_contacts = models.BooleanField(null=True, blank=True)
    sync_favourite_contacts = models.BooleanField(null=True, blank=True)
    sync_job_title = models.BooleanField(null=True, blank=True)
    sync_title = models.BooleanField(null=True, blank=True)
    sync_department = models.BooleanField(null=True, blank=True)
    personal_phone_as_primary = models.BooleanField(null=True, blank=True)
    sync_birthdays = models.BooleanField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "person sync preferences"

    def __str__(self) -> str:
        return f"Person Synchronization of {self.linked_user}"


class ChangeStatus(models.TextChoices):
    COMPUTING = "computing", "Computing the impact"
    READY = "ready", "Waiting for confirmation"
    FAILED = "failed", "Impact unknown"
    APPLIED = "applied", "Applied"
    CANCELLED = "cancelled", "Cancelled"


# A computation reads a few sources per user; one still running after this was most
# likely lost with its worker, and the page offers to start it again.
COMPUTING_PATIENCE = timedelta(minutes=10)

OPEN_STATUSES: frozenset[str] = frozenset(
    {ChangeStatus.COMPUTING, ChangeStatus.READY, ChangeStatus.FAILED}
)


class PendingPreferenceChange(models.Model):
    """An administrator's change to a profile's Person Synchronization that alters users'
    effective values, held until its impact is known and the administrator confirms it.

    `proposal` is what saving would do: {"defaults": {field: value}, "overwrite_user_settings":
    bool, "users_can_edit": bool | None, "resync_now": bool}.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    profile = models.ForeignKey(
        SyncProfile, on_delete=models.CASCADE, related_name="pending_preference_changes"
    )
    proposed_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    proposal = models.JSONField()
    status = models.CharField(
        max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.COMPUTING
    )
    # Moves on by one with each computation requested; a task saves its figures only while
    # its number is still the latest, so a slow or redelivered task cannot overwrite a newer
    # computation's (or a cancelled change's) state.
    computation = models.PositiveIntegerField(default=1)
    # The profile's preferences (defaults, overrides, users) the figures were computed
    # against: when it no longer matches, the figures are stale and computed again.
    fingerprint = models.CharField(max_length=64, blank=True)
    users_affected = models.PositiveIntegerField(default=0)
    contacts_added = models.PositiveIntegerField(default=0)
    contacts_removed = models.PositiveIntegerField(default=0)
    # One entry per affected user, most removals first: {"linked_user_id", "name", "synced",
    # "added", "removed", "large", "note"}.
    per_user = models.JSONField(default=list, blank=True)
    # Written for a person to read: why the impact could not be computed.
    error_text = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    computation_started_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Change of {self.profile}'s Person Synchronization ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def large_removals(self) -> list[dict[str, Any]]:
        """Users who would lose more contacts than the profile's mass-delete guard allows."""
        return [row for row in self.per_user if row.get("large")]

    @property
    def computing_overdue(self) -> bool:
        """Computing for longer than a computation takes: its task may be lost."""
        started = self.computation_started_at or self.created_at
        return (
            self.status == ChangeStatus.COMPUTING
            and started is not None
            and timezone.now() - started > COMPUTING_PATIENCE
        )
