from __future__ import annotations

from django.contrib import admin

from syncengine.models import HeldDeletion, PersonMapping, SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin[SyncRun]):
    list_display = [
        "linked_user",
        "kind",
        "status",
        "queued_at",
        "finished_at",
        "created_count",
        "updated_count",
        "deleted_count",
        "failed_count",
    ]
    list_filter = ["status", "kind"]
    readonly_fields = ["code", "queued_at"]
    raw_id_fields = ["linked_user"]


@admin.register(PersonMapping)
class PersonMappingAdmin(admin.ModelAdmin[PersonMapping]):
    list_display = ["linked_user", "person_id", "target_uid", "updated_at"]
    search_fields = ["target_uid"]
    raw_id_fields = ["linked_user"]


@admin.register(HeldDeletion)
class HeldDeletionAdmin(admin.ModelAdmin[HeldDeletion]):
    list_display = ["linked_user", "decision", "decided_by_name", "decided_at", "closed_at"]
    list_filter = ["decision"]
    readonly_fields = ["code", "created_at"]
    raw_id_fields = ["linked_user", "last_run", "decided_by"]
