from __future__ import annotations

from django.db import models

from profiles.models import LinkedUser


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
