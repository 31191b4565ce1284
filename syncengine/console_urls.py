from __future__ import annotations

from django.urls import path

from syncengine import console_views

app_name = "operations"

urlpatterns = [
    path("", console_views.console, name="console"),
    path("runs/<uuid:code>/retry/", console_views.retry_run, name="retry"),
]
