from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from profiles.models import SuperOfficeToken, User
from profiles.selectors import links_for_user
from syncengine.selectors import linked_user_overview_get


def home(request: HttpRequest) -> HttpResponse:
    """The welcome page; signed in, the way into the user portal (and the admin portal)."""
    user = request.user
    context: dict[str, object] = {}
    if isinstance(user, User):
        links = list(links_for_user(user=user))
        token = SuperOfficeToken.objects.filter(user=user).first()
        context["links"] = links
        context["overviews"] = [linked_user_overview_get(linked_user=link) for link in links]
        if token is not None and token.refresh_failed_at is not None:
            context["sign_in_again"] = token.refresh_error
    return render(request, "home.html", context)
