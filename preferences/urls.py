from __future__ import annotations

from django.urls import path

from preferences import views

app_name = "preferences"

urlpatterns = [
    path("links/<uuid:code>/preferences/", views.person_sync_edit, name="person-sync"),
    path(
        "manage/profiles/<uuid:code>/customize/superoffice/person-synchronization/",
        views.profile_person_sync_edit,
        name="profile-person-sync",
    ),
    path(
        "manage/profiles/<uuid:code>/users-can-edit/",
        views.profile_users_can_edit,
        name="users-can-edit",
    ),
    path("manage/preference-changes/<uuid:code>/", views.change_detail, name="change"),
    path("manage/preference-changes/<uuid:code>/apply/", views.change_apply, name="change-apply"),
    path(
        "manage/preference-changes/<uuid:code>/cancel/",
        views.change_cancel,
        name="change-cancel",
    ),
    path(
        "manage/preference-changes/<uuid:code>/recompute/",
        views.change_recompute,
        name="change-recompute",
    ),
]
