from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from synchronizer.encryption import rotate_encrypted_values


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = rotate_encrypted_values()
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} stored secret(s)."))
