"""Where SuperOffice's login (SuperID) lives for each environment."""

from __future__ import annotations

from django.conf import settings

ENVIRONMENT_BASE_URLS = {
    "sod": "https://sod.superoffice.com",
    "stage": "https://qaonline.superoffice.com",
    "online": "https://online.superoffice.com",
}


def superoffice_base_url(environment: str | None = None) -> str:
    """The base URL of an environment name (sod, stage, online) or of a base URL as given."""
    environment = environment or settings.SUPEROFFICE_ENVIRONMENT
    if environment in ENVIRONMENT_BASE_URLS:
        return ENVIRONMENT_BASE_URLS[environment]
    if not environment.startswith(("http://", "https://")):
        raise ValueError(
            f"SUPEROFFICE_ENVIRONMENT is “{environment}”: use sod, stage, online or a base URL."
        )
    return environment.rstrip("/")


def superoffice_environment_name(environment: str | None = None) -> str:
    """The Tenant.environment value for the configured environment."""
    environment = environment or settings.SUPEROFFICE_ENVIRONMENT
    return environment if environment in ENVIRONMENT_BASE_URLS else "custom"
