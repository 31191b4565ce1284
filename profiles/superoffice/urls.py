from __future__ import annotations

from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from profiles.superoffice.provider import SuperOfficeProvider

urlpatterns = default_urlpatterns(SuperOfficeProvider)
