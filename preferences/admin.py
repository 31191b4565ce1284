from __future__ import annotations

from django.contrib import admin

from preferences.models import PersonSyncPreferences


@admin.register(PersonSyncPreferences)
class PersonSyncPreferencesAdmin(admin.ModelAdmin[PersonSyncPreferences]):
    list_display = ["linked_user", "updated_at"]
    raw_id_fields = ["linked_user"]
