"""The sync engine's own cost, against reading the same data alone, in the same run.

    python bench/engine.py [--persons 12000]

Starts its own sandbox (the newsletter selection then has ≥ 10,000 members), an
embedded Redis when REDIS_URL is unset, and a throw-away SQLite database. The rate
budget is lifted, so the figures measure the engine, not the 10 requests/s limit.

Prints, never asserts:
- the baseline: reading every source and the person details with the client alone;
- a first run of everyone into the recording target: persons/s, CPU s per 1,000
  persons, and its time as a ratio of the baseline (aim: under 5 s in all);
- a second run with nothing changed: target writes (aim 0) and SuperOffice requests
  (aim ≤ ceil(N/500) + 10);
- a regular run with no appointment changes: SuperOffice requests (aim ≤ 5).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from sandbox.testing import SandboxProcess, sign_in  # noqa: E402 - needs the path above
from synchronizer.embedded_redis import embedded_redis_server  # noqa: E402

TENANT = "Cust10001"
ADMIN_EMAIL = "ingrid.haugen@nordlys-demo.example"
NEWSLETTER_SELECTION = 5


def _setup_django(database: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "synchronizer.settings"
    os.environ.setdefault("DEBUG", "true")
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["SUPEROFFICE_MAX_REQUESTS_PER_SECOND"] = "0"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _run(persons: int) -> None:
    from django.conf import settings
    from django.utils import timezone

    from preferences.services import person_sync_preferences_update
    from profiles.models import Environment, SuperOfficeToken, Tenant, User
    from profiles.services import linked_user_link, profile_create
    from syncengine.models import RunKind, SyncRun
    from syncengine.services import read_source, sync_run_execute, sync_window_for
    from syncengine.superoffice import reads
    from syncengine.superoffice.client import superoffice_client_for_linked_user
    from syncengine.targets.memory import RecordingTarget

    print(f"Starting a sandbox with {persons} persons …", flush=True)
    with SandboxProcess(persons=persons) as sandbox:
        settings.SUPEROFFICE_ENVIRONMENT = sandbox.base_url
        settings.SUPEROFFICE_MAX_REQUESTS_PER_SECOND = 0
        tenant = Tenant.objects.create(
            context_identifier=TENANT,
            environment=Environment.CUSTOM,
            webapi_url=f"{sandbox.base_url}/{TENANT}/api/",
        )
        user = User.objects.create_user(
            username="bench", tenant=tenant, associate_id=1, email=ADMIN_EMAIL
        )
        tokens = sign_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)
        SuperOfficeToken.objects.create(
            user=user,
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=timezone.now() + timedelta(hours=1),
        )
        linked_user = linked_user_link(
            profile=profile_create(tenant=tenant, name="Bench"),
            associate_id=1,
            email=ADMIN_EMAIL,
        )
        person_sync_preferences_update(
            linked_user=linked_user,
            changes={"static_selections": [{"id": NEWSLETTER_SELECTION, "name": "Nyhetsbrev"}]},
        )

        # Baseline: the same reads, without the engine.
        with superoffice_client_for_linked_user(linked_user=linked_user) as client:
            started = time.perf_counter()
            window = sync_window_for(linked_user=linked_user, now=timezone.now())
            selection = read_source(
                key=f"selection:{NEWSLETTER_SELECTION}",
                client=client,
                linked_user=linked_user,
                window=window,
            )
            appointments = read_source(
                key="appointments", client=client, linked_user=linked_user, window=window
            )
            named = selection.person_ids | appointments.person_ids
            reads.persons_by_ids(client=client, person_ids=named - selection.person_ids)
            baseline_seconds = time.perf_counter() - started
            baseline_requests = client.stats.requests
        count = len(named)
        print(
            f"\nBaseline, reads alone: {count} persons, {baseline_requests} requests, "
            f"{baseline_seconds:.2f} s"
        )

        target = RecordingTarget()

        def engine_run(kind: RunKind) -> tuple[float, float, int, int]:
            run = SyncRun.objects.create(linked_user=linked_user, kind=kind)
            writes_before = target.writes()
            with superoffice_client_for_linked_user(linked_user=linked_user) as client:
                wall, cpu = time.perf_counter(), time.process_time()
                finished = sync_run_execute(run=run, client=client, target=target)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                if finished.error_text:
                    sys.exit(f"The {kind} run failed: {finished.error_text}")
                return wall, cpu, client.stats.requests, target.writes() - writes_before

        wall, cpu, requests, writes = engine_run(RunKind.FIRST)
        print(
            f"\nFirst run: {writes} contacts written in {wall:.2f} s "
            f"({count / wall:,.0f} persons/s; aim: under 5 s)"
        )
        print(f"  CPU: {cpu * 1000 / count:.3f} s per 1,000 persons; {requests} requests")
        print(f"  ratio to the baseline: {wall / baseline_seconds:.2f}x the reads alone")

        wall, cpu, requests, writes = engine_run(RunKind.HOUSEKEEPING)
        budget = math.ceil(count / 500) + 10
        print(
            f"\nSecond run, nothing changed: {writes} target writes (aim 0), "
            f"{requests} requests (aim ≤ {budget}), {wall:.2f} s"
        )
        print(f"  ratio to the baseline: {wall / baseline_seconds:.2f}x")

        wall, cpu, requests, writes = engine_run(RunKind.REGULAR)
        print(
            f"\nRegular run, no appointment changes: {requests} requests (aim ≤ 5), "
            f"{writes} writes, {wall:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=12000)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = stack.enter_context(embedded_redis_server())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-engine-")))
        _setup_django(folder / "bench.sqlite3")
        _run(args.persons)


if __name__ == "__main__":
    main()
