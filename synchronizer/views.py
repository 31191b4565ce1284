from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from profiles.selectors import links_for_user


def home(request: HttpRequest) -> HttpResponse:
    links = links_for_user(user=request.user) if request.user.is_authenticated else []
    return render(request, "home.html", {"links": links})
