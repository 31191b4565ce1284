"""allauth adapters: sign-in is only ever through SuperOffice."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.http import HttpRequest
from django.shortcuts import render

from profiles.models import User
from profiles.superoffice.claims import SuperOfficeIdentity
from profiles.superoffice.signin import (
    TenantNotSetUp,
    sign_in_record,
    tenant_for_sign_in,
    user_apply_identity,
)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # No local passwords: people sign in with SuperOffice (staff use the Django admin).
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return True

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        identity = _identity(sociallogin)
        try:
            tenant_for_sign_in(identity=identity)
        except TenantNotSetUp:
            raise ImmediateHttpResponse(
                render(
                    request,
                    "superoffice/tenant_not_set_up.html",
                    {"identity": identity},
                    status=403,
                )
            ) from None
        if sociallogin.is_existing:
            _record(sociallogin, identity)

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        identity = _identity(sociallogin)
        # pre_social_login has made sure the tenant exists.
        user_apply_identity(
            user=sociallogin.user, identity=identity, tenant=tenant_for_sign_in(identity=identity)
        )
        user: User = super().save_user(request, sociallogin, form)
        _record(sociallogin, identity)
        return user


def _identity(sociallogin: SocialLogin) -> SuperOfficeIdentity:
    return SuperOfficeIdentity.from_claims(sociallogin.account.extra_data["id_token"])


def _record(sociallogin: SocialLogin, identity: SuperOfficeIdentity) -> None:
    token = sociallogin.token
    sign_in_record(
        user=sociallogin.user,
        identity=identity,
        access_token=token.token,
        refresh_token=token.token_secret or "",
        expires_at=token.expires_at,
    )
