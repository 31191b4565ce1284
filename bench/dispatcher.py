"""One tick of the beat dispatcher over many linked users, against a tick over one.

    python bench/dispatcher.py [--users 10000]

Uses a throw-away SQLite database (or --database-url) and an embedded Redis when
REDIS_URL is unset; tasks are not published (the broker round trip is not the
dispatcher's cost). Prints the time and the number of database queries of ticks over
users spread across the 15 minutes as the schedule spreads them (aim: under 1 s, and no
more queries than for one user), and of the worst case where every user is due at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from synchronizer.embedded_redis import embedded_redis_server  # noqa: E402


def _setup_django(database_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "synchronizer.settings"
    os.environ.setdefault("DEBUG", "true")
    os.environ["DATABASE_URL"] = database_url
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _populate(users: int) -> None:
    from django.utils import timezone

    from profiles.models import Environment, LinkedUser, SuperOfficeToken, TargetAccount, Tenant
    from profiles.models import User as UserModel
    from syncengine.models import SyncSchedule

    tenant = Tenant.objects.create(context_identifier="Cust1", environment=Environment.CUSTOM)
    from profiles.services import profile_create

    profile = profile_create(tenant=tenant, name="Bench")
    now = timezone.now()
    accounts = UserModel.objects.bulk_create(
        UserModel(username=f"u{i}", tenant=tenant, associate_id=i) for i in range(1, users + 1)
    )
    SuperOfficeToken.objects.bulk_create(
        SuperOfficeToken(user=user, access_token="bench", expires_at=now)  # noqa: S106
        for user in accounts
    )
    links = LinkedUser.objects.bulk_create(
        LinkedUser(
            tenant=tenant, profile=profile, user=user, associate_id=index,
            email=f"u{index}@example.com",
        )
        for index, user in enumerate(accounts, start=1)
    )  # fmt: skip
    TargetAccount.objects.bulk_create(
        TargetAccount(linked_user=link, verified_at=now) for link in links
    )
    # Spread as the real schedule spreads users: evenly over the 15 minutes.
    spread = timedelta(minutes=15) / max(users, 1)
    SyncSchedule.objects.bulk_create(
        SyncSchedule(
            linked_user=link,
            next_regular_at=now + spread * index,
            next_housekeeping_at=now + timedelta(days=1) + spread * index,
        )
        for index, link in enumerate(links)
    )


def _not_published(*args: object) -> None:
    return None


def _tick(label: str, *, minutes_ahead: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from syncengine import tasks
    from syncengine.orchestration import sync_dispatch_due

    # Publishing is the broker's cost, not the dispatcher's: leave it out of the figures.
    tasks.sync_run_task.delay = _not_published  # type: ignore[method-assign, assignment]
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = sync_dispatch_due(now=timezone.now() + timedelta(minutes=minutes_ahead))
        seconds = time.perf_counter() - started
    print(f"{label}: {result.regular} regular + {result.housekeeping} housekeeping queued "
          f"in {seconds:.3f} s, {len(queries)} queries")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--database-url", help="an empty database to use instead of SQLite")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = stack.enter_context(embedded_redis_server())
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-dispatch-")))
        _setup_django(args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}")
        print("Baseline, one linked user, due:")
        _populate(1)
        _tick("  tick", minutes_ahead=1)
        from profiles.models import Tenant

        Tenant.objects.all().delete()
        print(f"{args.users} linked users spread over 15 minutes:")
        _populate(args.users)
        _tick("  a minute's tick", minutes_ahead=1)
        _tick("  the next minute's tick", minutes_ahead=2)
        print("The worst case: every user due in one tick (after an outage):")
        _tick("  tick", minutes_ahead=16)


if __name__ == "__main__":
    main()
