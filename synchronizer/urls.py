from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from syncengine.metrics import metrics_view
from synchronizer import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("metrics/", metrics_view, name="metrics"),
    path("operations/", include("syncengine.console_urls")),
    path("accounts/", include("allauth.urls")),
    path("django-admin/", admin.site.urls),
    path("", include("profiles.urls")),
    path("", include("preferences.urls")),
    path("", include("syncengine.urls")),
]
