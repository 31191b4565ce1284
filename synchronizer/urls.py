from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from synchronizer import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", health.health, name="health"),
    path("accounts/", include("allauth.urls")),
    path("django-admin/", admin.site.urls),
]
