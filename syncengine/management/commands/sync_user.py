"""Run one linked user's sync in the foreground, with a progress bar (support, debugging).

python manage.py sync_user ingrid.haugen@nordlys-demo.example
python manage.py sync_user ingrid.haugen@nordlys-demo.example --kind housekeeping
python manage.py sync_user 0b7c…-uuid-of-the-link --tenant Cust10001
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from profiles.models import LinkedUser
from syncengine.locks import LockHeld
from syncengine.models import RunKind, SyncRun
from syncengine.performing import sync_run_perform
from syncengine.readiness import link_waiting_for

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Run one linked user's sync now, in the foreground, and show its progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="the linked user's e-mail, or the link's code (UUID)")
        parser.add_argument("--tenant", help="context identifier, when the e-mail is in several")
        parser.add_argument(
            "--kind",
            choices=[RunKind.REGULAR, RunKind.HOUSEKEEPING, RunKind.FIRST],
            default=RunKind.REGULAR,
            help="regular: appointments only; housekeeping or first: every source",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        linked_user = self._linked_user(options["user"], tenant=options["tenant"])
        if waiting := link_waiting_for(linked_user):
            raise CommandError(f"{linked_user.email} cannot run: {' '.join(waiting)}")
        run = SyncRun.objects.create(linked_user=linked_user, kind=options["kind"])
        self.stdout.write(f"{run.get_kind_display()} run of {linked_user.email} ({run.code})")
        try:
            run = sync_run_perform(run_id=run.pk, final_attempt=True, on_progress=self._bar)
        except LockHeld:
            run.delete()
            raise CommandError("Another run of this user is working; try again shortly.") from None
        self.stdout.write("")
        self.stdout.write(
            f"{run.get_status_display()}: {run.created_count} created, {run.updated_count} "
            f"updated, {run.deleted_count} deleted, {run.unchanged_count} unchanged, "
            f"{run.failed_count} failed."
        )
        for warning in run.warnings:
            self.stdout.write(self.style.WARNING(f"  {warning['message']}"))
        if run.error_text:
            raise CommandError(run.error_text)

    def _bar(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        self.stdout.write(
            f"\r[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {done}/{total}", ending=""
        )
        self.stdout.flush()

    def _linked_user(self, text: str, *, tenant: str | None) -> LinkedUser:
        links = LinkedUser.objects.alive().select_related("tenant", "profile")
        try:
            links = links.filter(code=uuid.UUID(text))
        except ValueError:
            links = links.filter(email__iexact=text)
        if tenant:
            links = links.filter(tenant__context_identifier=tenant)
        found = list(links[:2])
        if not found:
            raise CommandError(f"No linked user matches “{text}”.")
        if len(found) > 1:
            raise CommandError(f"“{text}” is linked in several tenants; add --tenant.")
        return found[0]
