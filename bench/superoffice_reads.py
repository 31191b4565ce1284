"""How many requests and seconds reading a big static selection costs, against the naive way.

    python bench/superoffice_reads.py [--persons 6000] [--naive-sample 200] [--rate-limit N]

Starts its own sandbox, finds the biggest static selection of persons, and reads its
members with the real reads: the selection archive gives every member with all card
fields, 1,000 a page. For persons known only by id (those of appointments) the Person
archive is read in id ranges (`personId between`); that route is measured for the same
members too. The baseline, measured in the same run, fetches `Person/{id}` one by one for
the first members and is extrapolated to all of them.

By default the client runs without the shared rate budget, so the numbers measure the
API. `--rate-limit N` adds the Redis budget of N requests per second; it needs REDIS_URL
(e.g. REDIS_URL=redis://127.0.0.1:6379/9), as Django's settings do. Prints; never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from sandbox.testing import SandboxProcess, sign_in  # noqa: E402 - needs the path above
from syncengine.superoffice.cells import id_cell  # noqa: E402
from syncengine.superoffice.client import SuperOfficeClient  # noqa: E402
from syncengine.superoffice.ratelimit import RateLimiter, RedisRateLimiter  # noqa: E402
from syncengine.superoffice.reads import persons_by_ids  # noqa: E402
from syncengine.superoffice.selections import selection_members  # noqa: E402

TENANT = "Cust10001"
ADMIN_EMAIL = "ingrid.haugen@nordlys-demo.example"
MEMBERS_TARGET_REQUESTS = 15  # for a 5,000-member selection, details included
# FindSelection's list columns in logical output: kind 0 is static; tables 5 and 6 are
# companies and persons.
STATIC_KIND = 0
PERSON_TABLES = {5, 6}


@dataclass(frozen=True)
class Measured:
    requests: int
    seconds: float


def measure(client: SuperOfficeClient, work: Callable[[], object]) -> Measured:
    requests_before = client.stats.requests
    started = time.perf_counter()
    work()
    return Measured(
        requests=client.stats.requests - requests_before,
        seconds=time.perf_counter() - started,
    )


def rate_limiter(*, per_second: int) -> RateLimiter | None:
    if per_second <= 0:
        return None
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        sys.exit("--rate-limit needs REDIS_URL, e.g. REDIS_URL=redis://127.0.0.1:6379/9")
    # The product reads its settings through Django; set it up as the workers do.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronizer.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()
    return RedisRateLimiter(redis_url=redis_url, per_second=per_second)


def biggest_static_person_selection(client: SuperOfficeClient) -> tuple[int, str, int]:
    rows = [
        row
        for row in client.archive(
            "FindSelection",
            select=("selectionId", "name", "kind", "targetTableNumber", "memberCount"),
            order_by="selectionId",
        )
        if id_cell(row, "kind") == STATIC_KIND
        and id_cell(row, "targetTableNumber") in PERSON_TABLES
    ]
    best = max(rows, key=lambda row: id_cell(row, "memberCount"))
    return id_cell(best, "selectionId"), str(best["name"]), id_cell(best, "memberCount")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--persons", type=int, default=6000, help="persons in the sandbox")
    parser.add_argument("--naive-sample", type=int, default=200, help="persons fetched one by one")
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=0,
        help="requests per second through the Redis budget (needs REDIS_URL); 0: none",
    )
    options = parser.parse_args()
    limiter = rate_limiter(per_second=options.rate_limit)

    print(f"Starting a sandbox with {options.persons} persons…", flush=True)
    with SandboxProcess(persons=options.persons) as sandbox:
        token = str(sign_in(base_url=sandbox.base_url, email=ADMIN_EMAIL)["access_token"])
        client = SuperOfficeClient(
            context_identifier=TENANT,
            webapi_url=f"{sandbox.base_url}/{TENANT}/api/",
            token_provider=lambda force_refresh: token,
            rate_limiter=limiter,
        )
        selection_id, name, member_rows = biggest_static_person_selection(client)
        control = sandbox.control()
        control.clear_request_counts()

        member_ids: frozenset[int] = frozenset()

        def read_members() -> None:
            nonlocal member_ids
            member_ids = frozenset(selection_members(client=client, selection_id=selection_id))

        members_cost = measure(client, read_members)
        server_counted = control.request_counts()["per_tenant"].get(TENANT, 0)
        by_id_cost = measure(client, lambda: persons_by_ids(client=client, person_ids=member_ids))

        sample = sorted(member_ids)[: options.naive_sample]
        naive_cost = measure(
            client, lambda: [client.get_json(f"Person/{person_id}") for person_id in sample]
        )
        client.close()

    members = len(member_ids)
    real = members_cost
    scale = members / max(len(sample), 1)
    naive = Measured(requests=members, seconds=naive_cost.seconds * scale)
    per_5000 = members_cost.requests * 5000 / max(members, 1)

    print(f"Selection “{name}” (id {selection_id}): {members} persons in {member_rows} rows")
    print(
        f"  members + details {members_cost.requests:6d} requests {members_cost.seconds:8.2f} s"
        f" (the sandbox counted {server_counted})"
    )
    print(
        f"  same persons by id {by_id_cost.requests:5d} requests {by_id_cost.seconds:8.2f} s"
        " (personId ranges, as for appointments' persons)"
    )
    print(
        f"  naive Person/{{id}} {naive.requests:6d} requests {naive.seconds:8.2f} s "
        f"(measured {naive_cost.requests} in {naive_cost.seconds:.2f} s, extrapolated)"
    )
    print(
        f"Ratio naive / real: {naive.requests / max(real.requests, 1):.0f}x requests, "
        f"{naive.seconds / max(real.seconds, 1e-9):.1f}x time"
    )
    verdict = "met" if per_5000 <= MEMBERS_TARGET_REQUESTS else "MISSED"
    print(
        f"Target ≤ {MEMBERS_TARGET_REQUESTS} requests for a 5,000-member selection: {verdict} "
        f"({per_5000:.1f} per 5,000)"
    )
    if limiter is not None:
        print(f"Rate budget: {options.rate_limit} requests per second per tenant (Redis)")


if __name__ == "__main__":
    main()
