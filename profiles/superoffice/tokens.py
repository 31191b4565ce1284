"""A valid SuperOffice access token for a user, refreshed when it runs out.

The engine reads SuperOffice with each linked user's own token. When SuperOffice refuses
a refresh (consent revoked, password changed), the token is marked and the user must sign
in again; until then their runs wait.
"""

from __future__ import annotations

from datetime import timedelta
from time import monotonic, sleep
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from profiles.models import LinkedUser, SuperOfficeToken, User
from profiles.superoffice.environments import superoffice_base_url

# Refresh a little before expiry, so a token never runs out in the middle of a request.
REFRESH_MARGIN_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 15
DISCOVERY_CACHE_SECONDS = 60 * 60


class SignInRequired(Exception):
    """Permanent until the user signs in again: we hold no usable SuperOffice token."""


class SuperOfficeUnavailable(Exception):
    """Transient: SuperOffice's login service did not answer usefully; try again later."""


def _token_endpoint() -> str:
    base_url = superoffice_base_url()
    cache_key = f"superoffice:token-endpoint:{base_url}"
    endpoint: str | None = cache.get(cache_key)
    if endpoint is None:
        try:
            response = requests.get(
                f"{base_url}/login/.well-known/openid-configuration",
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            endpoint = str(response.json()["token_endpoint"])
        except (requests.RequestException, ValueError, KeyError) as error:
            raise SuperOfficeUnavailable(
                f"SuperOffice's sign-in service at {base_url} did not answer: {error}"
            ) from error
        cache.set(cache_key, endpoint, DISCOVERY_CACHE_SECONDS)
    return endpoint


def _refused(token: SuperOfficeToken, message: str) -> SignInRequired:
    token.refresh_failed_at = timezone.now()
    token.refresh_error = message[:500]
    token.save(update_fields=["refresh_failed_at", "refresh_error", "updated_at"])
    return SignInRequired(message)


def superoffice_token_refresh(*, token: SuperOfficeToken) -> SuperOfficeToken:
    """Exchange the refresh token for a new access token, now."""
    if token.refresh_failed_at is not None:
        raise SignInRequired(token.refresh_error or "Sign in with SuperOffice again.")
    if not token.refresh_token:
        raise _refused(token, "SuperOffice gave no refresh token. Sign in with SuperOffice again.")
    try:
        response = requests.post(
            _token_endpoint(),
            data={
                "grant_type": "refresh_token",
                "client_id": settings.SUPEROFFICE_CLIENT_ID,
                "client_secret": settings.SUPEROFFICE_CLIENT_SECRET,
                "refresh_token": token.refresh_token,
            },
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        raise SuperOfficeUnavailable(
            f"SuperOffice's sign-in service did not answer: {error}"
        ) from error
    body: dict[str, Any] = _json(response)
    error_code = body.get("error") if response.status_code in (400, 401) else None
    if error_code in ("invalid_grant", "invalid_client"):
        if error_code == "invalid_client":
            # Our own client id or secret is wrong: not the user's fault, and not transient.
            raise SignInRequired(
                "SuperOffice does not accept Synchronizer's client credentials; "
                "an operator must check SUPEROFFICE_CLIENT_ID and SUPEROFFICE_CLIENT_SECRET."
            )
        raise _refused(
            token,
            "SuperOffice no longer accepts Synchronizer's access for this user (consent "
            "revoked or password changed). Sign in with SuperOffice again to resume syncing.",
        )
    if response.status_code != 200 or "access_token" not in body:
        raise SuperOfficeUnavailable(
            f"SuperOffice's sign-in service answered {response.status_code} to a token refresh."
        )
    token.access_token = str(body["access_token"])
    token.refresh_token = str(body.get("refresh_token") or token.refresh_token)
    token.expires_at = timezone.now() + timedelta(seconds=int(body.get("expires_in", 1200)))
    token.save(update_fields=["access_token", "refresh_token", "expires_at", "updated_at"])
    return token


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def superoffice_access_token_get(*, user: User, force_refresh: bool = False) -> str:
    """A usable access token for the user; refreshed when it is (nearly) expired or forced
    (after SuperOffice answered 401/403 to it)."""
    token = SuperOfficeToken.objects.filter(user=user).first()
    if token is None:
        raise SignInRequired(f"{user} has not signed in with SuperOffice yet.")
    if token.refresh_failed_at is not None:
        raise SignInRequired(token.refresh_error)
    if force_refresh or token.expires_within(seconds=REFRESH_MARGIN_SECONDS):
        token = _refresh_once_at_a_time(token=token, stale_access_token=token.access_token)
    return str(token.access_token)


def _refresh_once_at_a_time(
    *, token: SuperOfficeToken, stale_access_token: str
) -> SuperOfficeToken:
    """Refresh, unless another process (the web, another worker) is refreshing this user's
    token right now: then wait for its result. Two refreshes at once could make SuperOffice
    refuse one of them, and a refused refresh asks the user to sign in again."""
    lock_key = f"superoffice:token-refresh:{token.user_id}"
    # cache.add is atomic: only one process gets the lock.
    if cache.add(lock_key, "1", timeout=REQUEST_TIMEOUT_SECONDS * 2):
        try:
            return superoffice_token_refresh(token=token)
        finally:
            cache.delete(lock_key)
    deadline = monotonic() + REQUEST_TIMEOUT_SECONDS * 2
    while monotonic() < deadline and cache.get(lock_key) is not None:
        sleep(0.1)
    token.refresh_from_db()
    if token.refresh_failed_at is not None:
        raise SignInRequired(token.refresh_error)
    if token.access_token != stale_access_token:
        return token  # the other process's fresh token
    return superoffice_token_refresh(token=token)


def superoffice_access_token_for_linked_user(
    *, linked_user: LinkedUser, force_refresh: bool = False
) -> str:
    """The token a linked user's runs read SuperOffice with."""
    if linked_user.user is None:
        raise SignInRequired(
            f"Waiting for sign-in: {linked_user.email} has not signed in with SuperOffice yet."
        )
    return superoffice_access_token_get(user=linked_user.user, force_refresh=force_refresh)
