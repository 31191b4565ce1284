from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from profiles.models import SuperOfficeToken
from profiles.selectors import links_for_user


def home(request: HttpRequest) -> HttpResponse:
    context: dict[str, object] = {}
    if request.user.is_authenticated:
        context["links"] = links_for_user(user=request.user)
        token = SuperOfficeToken.objects.filter(user=request.user).first()
        if token is not None and token.refresh_failed_at is not None:
            context["sign_in_again"] = token.refresh_error
    return render(request, "home.html", context)
