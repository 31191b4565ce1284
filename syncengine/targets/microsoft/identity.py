"""Tokens from the Microsoft identity platform, always through MSAL.

Two ways into a mailbox. *Application access*: an administrator of the customer's
organisation consents once, and the client-credentials grant gives app tokens for that
directory. *Delegated access*: each user signs in once (authorization code with PKCE), and
their refresh token, kept encrypted in TargetAccount.secret, buys access tokens later.
Microsoft rotates refresh tokens on every redemption, so the newest one is saved each time.

One ConfidentialClientApplication per authority and process: it reads the authority's
OpenID configuration once and keeps app tokens until they near expiry. Its cache keeps app
tokens only; a user's refresh token lives in their account row, never in worker memory.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import msal
import requests
from django.conf import settings
from django.utils import timezone
from msal.oauth2cli.oidc import IdTokenError

from syncengine.targets.base import TargetError

if TYPE_CHECKING:
    from profiles.models import TargetAccount

# The resource our scopes name: Microsoft Graph's identifier, wherever Graph is served from.
GRAPH = "https://graph.microsoft.com"
APP_SCOPES = [f"{GRAPH}/.default"]
# MSAL adds offline_access, openid and profile itself (and refuses them given twice).
DELEGATED_SCOPES = ["Contacts.ReadWrite", "User.Read"]
ORGANIZATIONS = "organizations"
TOKEN_TIMEOUT_SECONDS = 30.0

# Answers of the token endpoint that mean the organisation has not (or no longer) let our
# app in: no service principal in the directory, consent withdrawn, directory unknown.
_CONSENT_ERRORS = {"invalid_client", "unauthorized_client", "consent_required", "invalid_grant"}
_CONSENT_CODES = {700016, 7000229, 65001, 90002, 7000112, 500011}
# Our own app's secret refused: the operators must fix it, not the customer.
_SECRET_CODES = {7000215, 7000222}
ADMIN_MUST_CONSENT = (
    "An administrator of the Microsoft 365 organisation must grant consent again on the "
    "profile page"
)


class MicrosoftNotConfigured(Exception):
    """The service has no Microsoft app registration (client id and secret) configured."""


class ConsentLost(TargetError):
    """Microsoft no longer lets us into the mailbox until someone consents again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


class ConsentRefused(ValueError):
    """A sign-in or consent came back refused, cancelled or forged; the message says which."""


@dataclass(frozen=True)
class DelegatedGrant:
    """What a user's sign-in gave us: their refresh token and who they are."""

    refresh_token: str
    user_object_id: str
    username: str
    directory_id: str


class _AppTokensOnly(msal.TokenCache):
    """MSAL's cache, keeping the app's own tokens only (see the module's docstring)."""

    def add(self, event: dict[str, Any], now: Any = None) -> None:
        if event.get("grant_type") == "client_credentials":
            super().add(event, now=now)


def _configured() -> tuple[str, str]:
    client_id, secret = settings.MICROSOFT_CLIENT_ID, settings.MICROSOFT_CLIENT_SECRET
    if not client_id or not secret:
        raise MicrosoftNotConfigured(
            "Microsoft 365 is not configured on this service: MICROSOFT_CLIENT_ID and "
            "MICROSOFT_CLIENT_SECRET must name the app registered with Microsoft."
        )
    return client_id, secret


class MicrosoftSession(requests.Session):
    """A session for the Microsoft endpoints: a timeout on every request (MSAL sends none),
    and MICROSOFT_CA_BUNDLE trusted when set — per request, because requests lets the
    REQUESTS_CA_BUNDLE environment variable override a session's own `verify`."""

    def __init__(self, *, ca_bundle: str, timeout: float = TOKEN_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.headers["User-Agent"] = "Synchronizer (Microsoft 365)"
        if ca_bundle:
            self.verify = ca_bundle

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        if self.ca_bundle:
            kwargs.setdefault("verify", self.ca_bundle)
        return super().request(*args, **kwargs)


def http_session() -> MicrosoftSession:
    return MicrosoftSession(ca_bundle=settings.MICROSOFT_CA_BUNDLE)


def _application(directory: str) -> msal.ConfidentialClientApplication:
    client_id, secret = _configured()
    try:
        return _cached_application(
            authority=f"{settings.MICROSOFT_LOGIN_URL}/{directory}",
            client_id=client_id,
            secret=secret,
            ca_bundle=settings.MICROSOFT_CA_BUNDLE,
        )
    except (ValueError, requests.RequestException) as error:
        # Not cached: the next call tries the authority again.
        raise TargetError(
            f"Microsoft's sign-in service could not be reached for directory {directory}: {error}"
        ) from error


@functools.cache
def _cached_application(
    *, authority: str, client_id: str, secret: str, ca_bundle: str
) -> msal.ConfidentialClientApplication:
    session = MicrosoftSession(ca_bundle=ca_bundle)
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=authority,
        instance_discovery=False,
        http_client=session,
        token_cache=_AppTokensOnly(),
    )


def _error_codes(result: Mapping[str, Any]) -> set[int]:
    return {int(code) for code in result.get("error_codes") or [] if str(code).isdigit()}


def _describe(result: Mapping[str, Any]) -> str:
    # The first line only: the rest is trace and correlation ids.
    description = str(result.get("error_description") or "").splitlines()
    return f"{result.get('error')}: {description[0]}" if description else str(result.get("error"))


def _acquire(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = call(*args, **kwargs)
    except requests.RequestException as error:
        raise TargetError(f"Microsoft's sign-in service could not be reached: {error}") from error
    return result


def app_access_token(*, directory_id: str) -> str:
    """An app token for the organisation's directory (cached by MSAL until near expiry)."""
    return _app_token(directory_id=directory_id, fresh=False)


def _app_token(*, directory_id: str, fresh: bool) -> str:
    if not directory_id:
        raise ConsentLost(
            "Microsoft 365 is not connected yet. " + ADMIN_MUST_CONSENT.replace(" again", "")
        )
    app = _application(directory_id)
    if fresh:
        # Graph refused the cached token (401): ask for a new one.
        app.remove_tokens_for_client()
    result = _acquire(app.acquire_token_for_client, scopes=APP_SCOPES)
    if "access_token" in result:
        return str(result["access_token"])
    codes = _error_codes(result)
    if codes & _SECRET_CODES:
        raise TargetError(
            "Microsoft refused this service's own app credentials (MICROSOFT_CLIENT_SECRET is "
            f"wrong or expired); the operators must renew it. ({_describe(result)})",
            permanent=True,
        )
    if result.get("error") in _CONSENT_ERRORS or codes & _CONSENT_CODES:
        # MSAL keeps a refusal for a minute and answers it again without asking Microsoft:
        # forget the application, so a consent given again works at the next attempt.
        _cached_application.cache_clear()
        raise ConsentLost(
            "Microsoft 365 refused Synchronizer's access to the organisation (consent missing "
            f"or withdrawn). {ADMIN_MUST_CONSENT}. ({_describe(result)})"
        )
    raise TargetError(f"Microsoft's sign-in service refused an app token: {_describe(result)}")


@dataclass(frozen=True)
class DelegatedToken:
    access_token: str
    expires_in: float
    # The rotated refresh token, to save in the account; empty if Microsoft sent none.
    refresh_token: str


def delegated_access_token(*, target_account: TargetAccount) -> str:
    """An access token for the user's own mailbox, bought with their refresh token; the
    rotated refresh token is saved at once, and a refused one recorded in words."""
    try:
        token = redeem_refresh_token(target_account=target_account)
    except ConsentLost as lost:
        consent_lost_record(target_account=target_account, message=str(lost))
        raise
    refresh_token_save(target_account=target_account, refresh_token=token.refresh_token)
    return token.access_token


def redeem_refresh_token(*, target_account: TargetAccount) -> DelegatedToken:
    """The redemption alone, without touching the database (callable from any thread)."""
    who = target_account.username or "this user"
    if not target_account.secret:
        raise ConsentLost(
            f"{who} has not connected their Microsoft 365 mailbox yet: they must connect it "
            "on their Synchronizer page."
        )
    app = _application(ORGANIZATIONS)
    result = _acquire(
        app.acquire_token_by_refresh_token, target_account.secret, scopes=DELEGATED_SCOPES
    )
    if "access_token" in result:
        return DelegatedToken(
            access_token=str(result["access_token"]),
            expires_in=float(result.get("expires_in") or 0),
            refresh_token=str(result.get("refresh_token") or ""),
        )
    if result.get("error") in ("invalid_grant", "interaction_required", "consent_required"):
        raise ConsentLost(
            f"Microsoft no longer accepts {who}'s connection to their mailbox (it expired or "
            "was revoked): they must connect their Microsoft 365 mailbox again on their "
            f"Synchronizer page. ({_describe(result)})"
        )
    raise TargetError(f"Microsoft's sign-in service refused {who}'s token: {_describe(result)}")


_save_lock = threading.Lock()


def refresh_token_save(*, target_account: TargetAccount, refresh_token: str) -> None:
    if not refresh_token or refresh_token == target_account.secret:
        return
    with _save_lock:
        target_account.secret = refresh_token
        target_account.save(update_fields=["secret", "updated_at"])


def consent_lost_record(*, target_account: TargetAccount, message: str) -> None:
    target_account.failure = message[:500]
    target_account.failed_at = timezone.now()
    target_account.save(update_fields=["failure", "failed_at", "updated_at"])


def admin_consent_url(*, redirect_uri: str, state: str) -> str:
    """Where an administrator grants the app access to their organisation (v2.0 endpoint)."""
    client_id, _ = _configured()
    authorize = _application(ORGANIZATIONS).authority.authorization_endpoint
    base = str(authorize).replace("/oauth2/v2.0/authorize", "/v2.0/adminconsent")
    query = urlencode(
        {
            "client_id": client_id,
            "scope": APP_SCOPES[0],
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{base}?{query}"


def authorization_flow_start(
    *,
    redirect_uri: str,
    login_hint: str,
    scopes: Sequence[str] | None = None,
    directory: str = ORGANIZATIONS,
) -> dict[str, Any]:
    """A user's sign-in: the flow to keep in their session; its `auth_uri` is where to send
    them. By default the sign-in that connects their own mailbox (DELEGATED_SCOPES, any
    organisation); `scopes` and `directory` narrow it, e.g. to `User.Read` in one directory
    to learn who signed in there. Finish it with the same `directory`."""
    flow: dict[str, Any] = _application(directory).initiate_auth_code_flow(
        list(DELEGATED_SCOPES if scopes is None else scopes),
        redirect_uri=redirect_uri,
        login_hint=login_hint or None,
    )
    return flow


def authorization_flow_finish(
    *,
    flow: dict[str, Any],
    query: Mapping[str, str],
    directory: str = ORGANIZATIONS,
    require_refresh_token: bool = True,
) -> DelegatedGrant:
    """The user came back: redeem the code (MSAL checks the state, PKCE and the nonce) for
    their identity and, unless `require_refresh_token` is False, a refresh token. The
    identity is the id_token's, which MSAL received from the token endpoint itself, over
    TLS and with our secret, never through the browser."""
    if query.get("error"):
        raise ConsentRefused(
            f"Microsoft refused the sign-in: {query.get('error_description') or query.get('error')}"
        )
    try:
        result = _acquire(
            _application(directory).acquire_token_by_auth_code_flow, flow, dict(query)
        )
    except ValueError as error:
        # MSAL: the state does not match the flow (a stale or forged answer).
        raise ConsentRefused(
            "This sign-in answer does not belong to the sign-in started here; please start again."
        ) from error
    except IdTokenError as error:
        # The id_token is not for this sign-in (another app's, or another nonce).
        raise ConsentRefused(
            f"Microsoft's answer to the sign-in does not check out ({error}); please start again."
        ) from error
    if "error" in result:
        raise ConsentRefused(f"Microsoft refused the sign-in: {_describe(result)}")
    claims: dict[str, Any] = result.get("id_token_claims") or {}
    if not claims.get("oid") or not claims.get("tid"):
        raise ConsentRefused(
            "Microsoft's answer to the sign-in does not say who signed in; please try again."
        )
    refresh_token = str(result.get("refresh_token") or "")
    if require_refresh_token and not refresh_token:
        raise ConsentRefused(
            "Microsoft connected the mailbox but gave no lasting access (no refresh token); "
            "please try again and accept all the permissions asked for."
        )
    return DelegatedGrant(
        refresh_token=refresh_token,
        user_object_id=str(claims["oid"]),
        username=str(claims.get("preferred_username") or ""),
        directory_id=str(claims["tid"]),
    )
