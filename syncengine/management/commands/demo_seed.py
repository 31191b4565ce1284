"""Prepare the demo: the sandbox's first tenant, a profile writing to a local CardDAV
server, and linked users whose mailbox credentials are already tested; optionally a second
profile on Microsoft 365, its organisation not connected yet (the administrator connects
it and links its users in the browser).

    python manage.py demo_seed --superoffice-url http://127.0.0.1:8001 \\
        --carddav-url http://127.0.0.1:5232/ \\
        --link 1,ingrid.haugen@nordlys-demo.example,PASSWORD … \\
        [--microsoft-profile "Nordlys 365"]

Run again, it changes nothing. Each user's first run starts when they sign in.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urljoin

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from preferences.services import profile_defaults_update
from profiles.models import (
    Environment,
    LinkedUser,
    SyncProfile,
    TargetAccount,
    TargetKind,
    Tenant,
)
from profiles.services import linked_user_link, profile_create
from profiles.signals import link_readiness_changed
from syncengine.targets.carddav_discovery import (
    CardDAVDiscoveryError,
    carddav_addressbook_create,
    carddav_credentials_verify,
)

TENANT = "Cust10001"
PROFILE_NAME = "Nordlys mailboxes"
# Small static selections of the sandbox, so the first runs are quick.
DEMO_DEFAULTS = {
    "static_selections": [{"id": 1, "name": "Nøkkelkunder Oslo"}],
    "sync_favourite_contacts": True,
}


class Command(BaseCommand):
    help = "Seed the demo tenant, profile and linked users (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--superoffice-url", required=True)
        parser.add_argument("--carddav-url", required=True)
        parser.add_argument(
            "--link",
            action="append",
            default=[],
            metavar="ASSOCIATE_ID,EMAIL,CARDDAV_PASSWORD",
            help="an associate to link, with their CardDAV password (user name = e-mail)",
        )
        parser.add_argument(
            "--microsoft-profile",
            default="",
            metavar="NAME",
            help="also a Microsoft 365 profile of this name, its organisation not connected",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        superoffice_url = options["superoffice_url"].rstrip("/")
        carddav_url = options["carddav_url"]
        with transaction.atomic():
            tenant, _ = Tenant.objects.get_or_create(
                context_identifier=TENANT,
                defaults={
                    "name": "Nordlys Demo AS",
                    "environment": Environment.CUSTOM,
                    "webapi_url": f"{superoffice_url}/{TENANT}/api/",
                },
            )
            profile, created = SyncProfile.objects.get_or_create(
                tenant=tenant, name=PROFILE_NAME, defaults={"carddav_url": carddav_url}
            )
            if created:
                profile_defaults_update(profile=profile, changes=DEMO_DEFAULTS)
            if options["microsoft_profile"]:
                self._microsoft_profile(tenant, name=options["microsoft_profile"])
        for spec in options["link"]:
            associate_id, email, password = self._parse(spec)
            linked_user = self._link(profile, associate_id=associate_id, email=email)
            self._connect_mailbox(
                linked_user, carddav_url=carddav_url, username=email, password=password
            )
            self.stdout.write(f"Linked {email} with a tested CardDAV address book.")

    def _microsoft_profile(self, tenant: Tenant, *, name: str) -> None:
        """Created once, with the demo's small defaults; connected later in the browser."""
        if SyncProfile.objects.filter(tenant=tenant, name=name).exists():
            return
        profile = profile_create(tenant=tenant, name=name, target_kind=TargetKind.MICROSOFT_GRAPH)
        profile_defaults_update(profile=profile, changes=DEMO_DEFAULTS)
        self.stdout.write(f"Created the Microsoft 365 profile “{name}”, not connected yet.")

    def _parse(self, spec: str) -> tuple[int, str, str]:
        try:
            associate_id, email, password = spec.split(",", 2)
            return int(associate_id), email, password
        except ValueError:
            raise CommandError(f"--link takes ASSOCIATE_ID,EMAIL,PASSWORD, not “{spec}”.") from None

    def _link(self, profile: SyncProfile, *, associate_id: int, email: str) -> LinkedUser:
        existing = (
            LinkedUser.objects.alive()
            .filter(tenant=profile.tenant, associate_id=associate_id)
            .first()
        )
        return existing or linked_user_link(profile=profile, associate_id=associate_id, email=email)

    def _connect_mailbox(
        self, linked_user: LinkedUser, *, carddav_url: str, username: str, password: str
    ) -> None:
        home_url = urljoin(carddav_url, f"{username}/")
        # Already there after a first demo start; the credentials test below tells if not.
        with contextlib.suppress(CardDAVDiscoveryError, requests.RequestException):
            carddav_addressbook_create(
                home_url=home_url, username=username, password=password, name="contacts"
            )
        account = TargetAccount.objects.filter(linked_user=linked_user).first() or TargetAccount(
            linked_user=linked_user
        )
        account.username, account.secret = username, password
        try:
            carddav_credentials_verify(target_account=account, server_url=carddav_url)
        except CardDAVDiscoveryError as error:
            raise CommandError(f"{username}: {error}") from error
        link_readiness_changed.send(sender=LinkedUser, linked_user_id=linked_user.pk)
