"""What the Microsoft 365 view tests share: pressing the stand-in's own buttons, as a
browser would, and a profile whose mailboxes are in Microsoft 365."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import requests
from django.conf import settings
from django.test import Client

from profiles.models import SyncProfile, TargetKind, Tenant, User
from profiles.services import profile_create

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

# Microsoft accepts our callbacks only on registered addresses; the stand-in registers
# every loopback address, so the test client speaks as 127.0.0.1.
HOST = "127.0.0.1"

Login = Callable[[User], Client]


def microsoft_profile(tenant: Tenant, name: str) -> SyncProfile:
    """A profile of `tenant` whose mailboxes are in Microsoft 365 (application access)."""
    return profile_create(tenant=tenant, name=name, target_kind=TargetKind.MICROSOFT_GRAPH)


def microsoft_press(url: str, *, user_id: str | None = None) -> str:
    """Open a stand-in page (admin consent or sign-in) and press "Accept as"/"Sign in as"
    the user, or Cancel when no user is given; returns where it sends the browser back."""
    ca_bundle = settings.MICROSOFT_CA_BUNDLE or True
    page = requests.get(url, verify=ca_bundle, timeout=30)
    assert page.status_code == 200, page.text
    form = dict(parse_qsl(urlsplit(url).query))
    form.update({"user": user_id} if user_id else {"cancel": "1"})
    answer = requests.post(
        url.split("?", 1)[0], data=form, verify=ca_bundle, allow_redirects=False, timeout=30
    )
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def come_back(client: Client, location: str) -> Response:
    """Follow Microsoft's redirect back into Synchronizer."""
    parts = urlsplit(location)
    return client.get(f"{parts.path}?{parts.query}", HTTP_HOST=HOST, follow=True)


def sent_on(client: Client, location: str) -> str:
    """Follow Microsoft's redirect back into Synchronizer, which sends the browser on to
    Microsoft again (after the consent, to the sign-in that confirms the organisation):
    where to."""
    parts = urlsplit(location)
    response = client.get(f"{parts.path}?{parts.query}", HTTP_HOST=HOST)
    assert response.status_code == 302, response
    return str(response["Location"])


def query_of(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))
