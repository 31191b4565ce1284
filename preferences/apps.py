from __future__ import annotations

from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    name = "preferences"
    verbose_name = "Person Synchronization preferences"
