from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from profiles.models import (
    LinkedUser,
    MicrosoftConnection,
    SuperOfficeToken,
    SyncProfile,
    TargetAccount,
    Tenant,
    User,
)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ["context_identifier", "name", "environment", "created_at"]
    search_fields = ["context_identifier", "name"]
    readonly_fields = ["code", "created_at", "updated_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    list_display = [
        "username",
        "email",
        "tenant",
        "associate_id",
        "is_superoffice_admin",
        "is_staff",
    ]
    list_filter = ["is_superoffice_admin", "is_staff", "tenant"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("SuperOffice", {"fields": ("tenant", "associate_id", "is_superoffice_admin")}),
    )


@admin.register(SyncProfile)
class SyncProfileAdmin(admin.ModelAdmin[SyncProfile]):
    list_display = ["name", "tenant", "target_kind", "users_can_edit_preferences", "deleted_at"]
    list_filter = ["target_kind", "tenant"]
    search_fields = ["name", "tenant__context_identifier"]
    readonly_fields = ["code", "created_at", "updated_at"]


@admin.register(MicrosoftConnection)
class MicrosoftConnectionAdmin(admin.ModelAdmin[MicrosoftConnection]):
    list_display = ["profile", "access", "directory_id", "consented_at", "failed_at"]
    list_filter = ["access"]
    search_fields = ["profile__name", "directory_id"]
    readonly_fields = ["profile", "consented_at", "consented_by", "updated_at"]


@admin.register(LinkedUser)
class LinkedUserAdmin(admin.ModelAdmin[LinkedUser]):
    list_display = ["email", "full_name", "profile", "tenant", "is_enabled", "deleted_at"]
    list_filter = ["is_enabled", "tenant"]
    search_fields = ["email", "full_name"]
    readonly_fields = ["code", "created_at"]
    raw_id_fields = ["user"]


@admin.register(TargetAccount)
class TargetAccountAdmin(admin.ModelAdmin[TargetAccount]):
    list_display = ["linked_user", "username", "collection_url", "verified_at"]
    # The secret is never shown back, not even to staff.
    exclude = ["secret"]


@admin.register(SuperOfficeToken)
class SuperOfficeTokenAdmin(admin.ModelAdmin[SuperOfficeToken]):
    list_display = ["user", "expires_at", "refresh_failed_at", "updated_at"]
    exclude = ["access_token", "refresh_token"]
    readonly_fields = ["user", "expires_at", "refresh_failed_at", "refresh_error"]
