from __future__ import annotations

from django.apps import AppConfig


class SyncengineConfig(AppConfig):
    name = "syncengine"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from syncengine import receivers  # noqa: F401 - connects the signal receivers
