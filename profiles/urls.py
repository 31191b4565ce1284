from __future__ import annotations

from django.urls import path

from profiles import views

app_name = "profiles"

urlpatterns = [
    path("manage/", views.profile_list, name="list"),
    path("manage/profiles/new/", views.profile_new, name="new"),
    path("manage/profiles/<uuid:code>/", views.profile_manage, name="manage"),
    path("manage/profiles/<uuid:code>/customize/", views.profile_customize, name="customize"),
    path("manage/profiles/<uuid:code>/delete/", views.profile_remove, name="delete"),
    path("manage/profiles/<uuid:code>/undelete/", views.profile_restore, name="undelete"),
    path(
        "manage/profiles/<uuid:code>/delete-permanently/",
        views.profile_delete_permanently,
        name="delete-permanently",
    ),
    path("manage/links/<uuid:code>/disable/", views.link_disable, name="link-disable"),
    path("manage/links/<uuid:code>/enable/", views.link_enable, name="link-enable"),
    path("manage/links/<uuid:code>/delete/", views.link_remove, name="link-delete"),
    path("manage/links/<uuid:code>/undelete/", views.link_restore, name="link-undelete"),
]
