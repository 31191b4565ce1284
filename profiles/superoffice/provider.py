"""The `superoffice` provider, built on allauth's OpenID Connect provider.

SuperOffice has no userinfo endpoint: identity comes from the id_token, whose custom
claims sit under http://schemes.superoffice.net/identity/. The same e-mail can exist
in several tenants, so the account uid is "{ctx}:{associateid}", never the e-mail.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider
from allauth.socialaccount.providers.openid_connect.provider import (
    OpenIDConnectProvider,
    OpenIDConnectProviderAccount,
)
from django.http import HttpRequest

from profiles.superoffice.claims import SuperOfficeIdentity
from profiles.superoffice.environments import superoffice_base_url
from profiles.superoffice.views import SuperOfficeOAuth2Adapter


class SuperOfficeAccount(OpenIDConnectProviderAccount):
    def to_str(self) -> str:
        identity = SuperOfficeIdentity.from_claims(self.account.extra_data.get("id_token", {}))
        return f"{identity.email} ({identity.context_identifier})"


class SuperOfficeProvider(OpenIDConnectProvider):
    id = "superoffice"
    name = "SuperOffice"
    account_class = SuperOfficeAccount
    oauth2_adapter_class = SuperOfficeOAuth2Adapter
    # Code flow with PKCE, as SuperOffice recommends.
    pkce_enabled_default = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = "SuperOffice"

    @property
    def server_url(self) -> str:
        # Read at each use, so the environment can change without a restart of tests.
        return str(self.wk_server_url(f"{superoffice_base_url()}/login"))

    # The plain OAuth2 URL names (superoffice_login / superoffice_callback), not the
    # generic OpenID Connect ones that carry a provider id.
    def get_login_url(self, request: HttpRequest, **kwargs: Any) -> str:
        return OAuth2Provider.get_login_url(self, request, **kwargs)  # type: ignore[no-any-return]

    def get_callback_url(self) -> str:
        return OAuth2Provider.get_callback_url(self)  # type: ignore[no-any-return]

    def get_default_scope(self) -> list[str]:
        return ["openid"]

    def get_oauth2_adapter(self, request: HttpRequest) -> SuperOfficeOAuth2Adapter:
        return SuperOfficeOAuth2Adapter(request)

    def extract_uid(self, data: dict[str, Any]) -> str:
        return SuperOfficeIdentity.from_claims(data["id_token"]).uid

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        identity = SuperOfficeIdentity.from_claims(data["id_token"])
        return {"email": identity.email, "username": identity.username}

    def extract_email_addresses(self, data: dict[str, Any]) -> list[EmailAddress]:
        identity = SuperOfficeIdentity.from_claims(data["id_token"])
        if not identity.email:
            return []
        # SuperOffice vouches for its users' e-mail addresses.
        return [EmailAddress(email=identity.email, verified=True, primary=True)]


provider_classes = [SuperOfficeProvider]
