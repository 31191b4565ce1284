from __future__ import annotations

from django.apps import AppConfig


class SuperOfficeLoginConfig(AppConfig):
    """The `superoffice` allauth provider: sign-in with SuperOffice (SuperID)."""

    name = "profiles.superoffice"
    label = "superoffice"
    verbose_name = "Sign in with SuperOffice"
