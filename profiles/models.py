from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Self, TypeVar

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from synchronizer.encryption import EncryptedTextField

if TYPE_CHECKING:
    from datetime import datetime


_M = TypeVar("_M", bound=models.Model)


class SoftDeleteQuerySet(models.QuerySet[_M]):
    def alive(self) -> Self:
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> Self:
        return self.filter(deleted_at__isnull=False)


class LinkedUserQuerySet(SoftDeleteQuerySet["LinkedUser"]):
    def runnable(self) -> Self:
        """Links whose runs may happen: enabled, and neither they nor their profile deleted."""
        return self.filter(
            is_enabled=True, deleted_at__isnull=True, profile__deleted_at__isnull=True
        )


class _SoftDeletable(models.Model):
    """Rows that are hidden, not removed, when deleted, so an undelete restores them whole."""

    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def soft_delete(self) -> None:
        if self.deleted_at is None:
            self.deleted_at = timezone.now()
            self.save(update_fields=["deleted_at"])

    def undelete(self) -> None:
        if self.deleted_at is not None:
            self.deleted_at = None
            self.save(update_fields=["deleted_at"])


class Environment(models.TextChoices):
    SOD = "sod", "Development (sod)"
    STAGE = "stage", "Stage (qaonline)"
    ONLINE = "online", "Production (online)"
    CUSTOM = "custom", "Custom base URL"


class Tenant(models.Model):
    """One SuperOffice customer database, known by its context identifier."""

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    context_identifier = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=200, blank=True)
    environment = models.CharField(max_length=10, choices=Environment.choices)
    webapi_url = models.URLField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["context_identifier"]

    def __str__(self) -> str:
        return f"{self.name or self.context_identifier} ({self.context_identifier})"


class User(AbstractUser):
    """A person who signs in: a SuperOffice associate of one tenant, or a staff operator.

    The same e-mail can exist in several tenants, so an associate is known by
    (tenant, associate_id), never by e-mail.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="users"
    )
    associate_id = models.PositiveIntegerField(null=True, blank=True)
    # From the id_token's is_administrator claim, refreshed at every sign-in.
    is_superoffice_admin = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "associate_id"], name="user_unique_associate_per_tenant"
            ),
            models.CheckConstraint(
                condition=Q(tenant__isnull=True, associate_id__isnull=True)
                | Q(tenant__isnull=False, associate_id__isnull=False),
                name="user_tenant_and_associate_together",
            ),
        ]


class TargetKind(models.TextChoices):
    CARDDAV = "carddav", "CardDAV address book"
    MICROSOFT_GRAPH = "graph", "Microsoft 365 (Graph)"
    GOOGLE = "google", "Google Contacts"


class SyncProfile(_SoftDeletable):
    """Settings and linked users that share one mailbox system, inside one tenant.

    The Person Synchronization fields are the profile-wide defaults; each linked user's
    PersonSyncPreferences can override them field by field.
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="profiles")
    name = models.CharField(max_length=100)
    target_kind = models.CharField(
        max_length=10, choices=TargetKind.choices, default=TargetKind.CARDDAV
    )
    carddav_url = models.URLField(
        "CardDAV server URL", max_length=500, blank=True, help_text="Where the address books live."
    )
    users_can_edit_preferences = models.BooleanField("Users can edit own preferences", default=True)

    # Person Synchronization defaults (DESIGN §6). Selections are [{"id": 12, "name": "VIP"}]:
    # the id is resolved from the name when it is saved.
    static_selections = models.JSONField(default=list, blank=True)
    sync_favourite_company_contacts = models.BooleanField(
        "Contacts at favourite company", default=False
    )
    sync_favourite_contacts = models.BooleanField("Favourite contacts", default=False)
    sync_job_title = models.BooleanField("Job title", default=True)
    sync_title = models.BooleanField("Title", default=True)
    sync_department = models.BooleanField("Department", default=True)
    personal_phone_as_primary = models.BooleanField(
        "Use personal phone number as primary", default=True
    )
    sync_birthdays = models.BooleanField("Sync contact birthdays", default=True)

    sync_window_days_back = models.PositiveSmallIntegerField(default=7)
    sync_window_days_ahead = models.PositiveSmallIntegerField(default=180)
    # The mass-delete guard holds a run that would delete more than this share *and*
    # more than this number of a user's synced contacts.
    mass_delete_max_percent = models.PositiveSmallIntegerField(default=50)
    mass_delete_max_count = models.PositiveIntegerField(default=25)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SoftDeleteQuerySet["SyncProfile"].as_manager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mass_delete_max_percent__lte=100), name="profile_percent_at_most_100"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MicrosoftAccess(models.TextChoices):
    APPLICATION = "application", "An administrator connects the organisation once"
    DELEGATED = "delegated", "Each user connects their own mailbox"


class MicrosoftConnection(models.Model):
    """A Microsoft 365 profile's organisation (Microsoft Entra tenant) and how we reach it.

    With application access an administrator of the organisation consents once for every
    mailbox; the directory id is what Microsoft tells us after that consent. With delegated
    access each linked user connects their own mailbox (TargetAccount.secret).
    """

    profile = models.OneToOneField(
        SyncProfile, on_delete=models.CASCADE, related_name="microsoft_connection"
    )
    access = models.CharField(
        max_length=20, choices=MicrosoftAccess.choices, default=MicrosoftAccess.APPLICATION
    )
    directory_id = models.CharField("Microsoft tenant id", max_length=64, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    consented_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The contact folder our contacts go into, in every linked user's mailbox.
    folder_name = models.CharField("Contact folder", max_length=100, default="SuperOffice")
    # Why Microsoft refuses the organisation's tokens now (consent revoked), in words.
    failure = models.CharField(max_length=500, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Microsoft 365 of {self.profile}"

    @property
    def is_connected(self) -> bool:
        """Application access: consent given and not known to be revoked."""
        return bool(self.directory_id) and self.consented_at is not None and not self.failure


class LinkedUser(_SoftDeletable):
    """An associate linked to a profile and to one mailbox.

    An admin can link an associate before they ever sign in; `user` is filled in at
    their first sign-in, and until then they wait (no token to read SuperOffice with).
    """

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Always profile.tenant; stored so the database can keep one live link per associate.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="linked_users")
    profile = models.ForeignKey(SyncProfile, on_delete=models.CASCADE, related_name="linked_users")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="links"
    )
    associate_id = models.PositiveIntegerField()
    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LinkedUserQuerySet.as_manager()

    class Meta:
        ordering = ["full_name", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "associate_id"],
                condition=Q(deleted_at__isnull=True),
                name="linkeduser_one_live_link_per_associate",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_runnable(self) -> bool:
        """Runs happen only for enabled links, when neither they nor their profile are deleted."""
        return self.is_enabled and self.deleted_at is None and self.profile.deleted_at is None


class TargetAccount(models.Model):
    """A linked user's credentials for their mailbox (address book).

    CardDAV: the user name (defaults to the associate's e-mail) and an app password.
    """

    linked_user = models.OneToOneField(
        LinkedUser, on_delete=models.CASCADE, related_name="target_account"
    )
    username = models.CharField(max_length=254, blank=True)
    secret = EncryptedTextField(blank=True)
    # The address book chosen at the first verification (for CardDAV, the collection
    # URL), and its name as the server shows it. Pinned: testing credentials again never
    # switches it; moving to another book is an explicit action that takes our contacts
    # out of this one first.
    collection_url = models.URLField(max_length=500, blank=True)
    collection_name = models.CharField(max_length=200, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Microsoft 365: the mailbox's user object id, and the id of the contact folder our
    # contacts live in (found or created at the first run, by the profile's folder name).
    # `username` is the mailbox's address; `secret` the delegated refresh token, if any.
    remote_user_id = models.CharField(max_length=100, blank=True)
    folder_id = models.CharField(max_length=500, blank=True)
    # Where the mailbox's change feed left off (Microsoft Graph's deltaLink), so a regular
    # run sees contacts edited or deleted in the mailbox with one cheap request.
    change_cursor = models.TextField(blank=True)
    # Why the mailbox stopped taking our requests (consent expired or revoked), in words;
    # cleared when the user connects again.
    failure = models.CharField(max_length=500, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Mailbox of {self.linked_user}"

    @property
    def collection_label(self) -> str:
        """The pinned address book in words, for messages: its name and where it is."""
        if self.collection_name:
            return f"“{self.collection_name}” ({self.collection_url})"
        return self.collection_url


class SuperOfficeToken(models.Model):
    """A user's SuperOffice OAuth tokens, encrypted at rest; the engine reads with them."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="superoffice_token")
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True)
    expires_at = models.DateTimeField()
    # Set when a refresh was refused (consent revoked, password changed); the user must
    # sign in again, and their runs wait until they do.
    refresh_failed_at = models.DateTimeField(null=True, blank=True)
    refresh_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"SuperOffice token of {self.user}"

    def expires_within(self, *, seconds: int, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return (self.expires_at - now).total_seconds() <= seconds
