from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.http import HttpRequest
from django.urls import reverse

from profiles.superoffice.claims import MissingClaim, SuperOfficeIdentity


class SuperOfficeOAuth2Adapter(OpenIDConnectOAuth2Adapter):
    """OpenID Connect against SuperID, without a userinfo call (SuperOffice has none)."""

    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request, "superoffice")

    def complete_login(self, request: HttpRequest, app: Any, token: Any, **kwargs: Any) -> Any:
        id_token = kwargs["response"].get("id_token")
        if not id_token:
            raise OAuth2Error("SuperOffice answered without an id_token.")
        claims = self._decode_id_token(app, id_token)
        try:
            SuperOfficeIdentity.from_claims(claims)
        except MissingClaim as error:
            raise OAuth2Error(str(error)) from error
        return self.get_provider().sociallogin_from_response(request, {"id_token": claims})

    def get_callback_url(self, request: HttpRequest, app: Any) -> str:
        callback = reverse("superoffice_callback")
        return str(build_absolute_uri(request, callback, self.redirect_uri_protocol))


oauth2_login = OAuth2LoginView.adapter_view(SuperOfficeOAuth2Adapter)
oauth2_callback = OAuth2CallbackView.adapter_view(SuperOfficeOAuth2Adapter)
