from __future__ import annotations

from django.urls import path

from syncengine import views

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
    path("manage/status/", views.status, name="status"),
    path("manage/status.csv", views.status_csv, name="status-csv"),
]
