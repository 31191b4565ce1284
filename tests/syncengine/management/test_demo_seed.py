from __future__ import annotations

import io
import uuid

from django.core.management import call_command

from profiles.models import LinkedUser, TargetAccount, Tenant
from sandbox.testing import SandboxControl
from syncengine.models import SyncRun
from tests.plugins.radicale import RadicaleHelper


def test_it_seeds_the_demo_and_changes_nothing_when_run_again(
    db: None, sandbox: SandboxControl, radicale: RadicaleHelper
) -> None:
    username, password = f"seed-{uuid.uuid4().hex[:8]}@example.com", "seed-password"
    radicale.process.add_user(username, password)
    arguments = [
        f"--superoffice-url={sandbox.base_url}",
        f"--carddav-url={radicale.url}",
        f"--link=1,{username},{password}",
    ]

    call_command("demo_seed", *arguments, stdout=io.StringIO())
    call_command("demo_seed", *arguments, stdout=io.StringIO())

    tenant = Tenant.objects.get()
    assert tenant.webapi_url == f"{sandbox.base_url}/Cust10001/api/"
    [link] = LinkedUser.objects.all()
    assert link.profile.static_selections == [{"id": 1, "name": "Nøkkelkunder Oslo"}]
    account = TargetAccount.objects.get(linked_user=link)
    assert account.verified_at is not None
    assert account.collection_url.startswith(radicale.url)
    # Nobody signed in yet: the first run waits for the sign-in.
    assert not SyncRun.objects.exists()
