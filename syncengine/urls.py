from __future__ import annotations

from django.urls import path

from syncengine import microsoft_views, views

app_name = "syncengine"

urlpatterns = [
    path("links/<uuid:code>/", views.overview, name="overview"),
    path("links/<uuid:code>/sync-now/", views.sync_now, name="sync-now"),
    path("links/<uuid:code>/credentials/", views.credentials, name="credentials"),
    path("links/<uuid:code>/credentials/move/", views.credentials_move, name="credentials-move"),
    path("links/<uuid:code>/runs/", views.run_list, name="runs"),
    path("links/<uuid:code>/runs.json", views.run_list_json, name="runs-json"),
    path("runs/<uuid:code>/", views.run_detail, name="run"),
    path("held-deletions/<uuid:code>/", views.held_detail, name="held"),
    path("held-deletions/<uuid:code>/decide/", views.held_decide, name="held-decide"),
    path("manage/profiles/<uuid:code>/link-users/", views.link_users, name="link-users"),
    path(
        "manage/profiles/<uuid:code>/link-users/domain/",
        views.link_users_by_domain,
        name="link-users-domain",
    ),
    path(
        "manage/profiles/<uuid:code>/microsoft/connect/",
        microsoft_views.organisation_connect,
        name="microsoft-connect",
    ),
    path(
        "manage/microsoft/consent/",
        microsoft_views.organisation_consent_callback,
        name="microsoft-consent-callback",
    ),
    path(
        "manage/microsoft/sign-in/",
        microsoft_views.organisation_sign_in_callback,
        name="microsoft-sign-in-callback",
    ),
    path(
        "manage/profiles/<uuid:code>/microsoft/folder/",
        microsoft_views.organisation_folder,
        name="microsoft-folder",
    ),
    path(
        "manage/profiles/<uuid:code>/microsoft/access/",
        microsoft_views.organisation_access,
        name="microsoft-access",
    ),
    path(
        "manage/profiles/<uuid:code>/microsoft/link/",
        microsoft_views.link_one,
        name="microsoft-link",
    ),
    path(
        "manage/profiles/<uuid:code>/microsoft/link-all/",
        microsoft_views.link_all,
        name="microsoft-link-all",
    ),
    path(
        "links/<uuid:code>/microsoft/connect/",
        microsoft_views.mailbox_connect,
        name="microsoft-mailbox-connect",
    ),
    path(
        "microsoft/mailbox/",
        microsoft_views.mailbox_callback,
        name="microsoft-mailbox-callback",
    ),
    path("manage/status/", views.status, name="status"),
    path("manage/status.csv", views.status_csv, name="status-csv"),
]
