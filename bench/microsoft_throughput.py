"""How close the engine's first run into Microsoft 365 comes to bare `$batch` requests,
with Outlook's throttling limits in force on the stand-in and kept by our side too.

    .venv/bin/python bench/microsoft_throughput.py [--contacts 2000] [--profile]

Starts its own Microsoft 365 stand-in, an embedded Redis when REDIS_URL is unset, and a
throw-away SQLite database. The stand-in enforces Outlook's limits per (app, mailbox) —
4 requests in flight, and a request budget per sliding window — scaled down in time:
1,100 requests per 66 s, the same rate as Microsoft's 10,000 per 10 minutes, so 2,000
contacts (and a request or two for the folder) cross the budget exactly once: the first
1,100 go at once, the rest a window later, and each side takes a little over 66 s. The
product's MICROSOFT_MAILBOX_BUDGET / _BUDGET_WINDOW_SECONDS / _CONCURRENCY are set to the
same limits, so it paces itself. Every `$batch` sub-request counts against the budget.

Measured in the same run, each into a fresh mailbox's folder:
  (a) a bare loop: pre-rendered Graph contact bodies POSTed in `$batch`es of 20, 4 in
      flight (a ThreadPoolExecutor, plain requests, an app token fetched once); a 429'd
      sub-request is sent again after its Retry-After, and nothing goes to the mailbox
      before that;
  (b) the product: `Writer.create_all` of the same persons through a GraphTarget opened
      from a Microsoft 365 profile's TargetAccount (application access, consented).

Prints, never asserts: both throughputs and the ratio b/a (aim: ≥ 0.9), and the same
outside the time each side was held back by the budget (its own work, as in a run that
stays under the budget); the requests each side made in consecutive windows from its
first request, per stand-in window and at Microsoft's scale (per 10 minutes, out of
10,000); the most requests sent in any sliding window against the budget ("within budget"
/ "OVER BUDGET"; the bare loop's 429'd sub-requests count, they were sent); the stand-in's
throttled (429) counts and the most requests in flight it saw. `--profile` runs (b) under
cProfile (the calling thread and every `$batch` on the pool threads) and prints the top.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from cards import bench_card  # noqa: E402

from sandbox.microsoft.testing import MicrosoftControl, MicrosoftProcess  # noqa: E402
from synchronizer.embedded_redis import embedded_redis_server  # noqa: E402

if TYPE_CHECKING:
    from profiles.models import TargetAccount
    from syncengine.rendering import ContactCard

# Outlook's limits per (app, mailbox), and the stand-in's: the same rate, a tenth the window.
MICROSOFT_BUDGET = 10_000
MICROSOFT_WINDOW_SECONDS = 600
BUDGET = 1_100
WINDOW_SECONDS = 66
CONCURRENCY = 4
BATCH = 20
TENANT = "Cust100"
DOMAIN = "bench.example"
FOLDER = "SuperOffice"
IMMUTABLE_IDS = 'IdType="ImmutableId"'


# -- what both sides sent, from their sessions' response hooks ------------------------------


@dataclass(frozen=True)
class Sent:
    at: float  # monotonic, when the request went out
    requests: int  # Graph requests it carried (sub-requests of a $batch)
    admitted: int  # of those, not answered 429


@dataclass
class Recorder:
    """Every HTTP exchange of one session; read after the run (the hook only keeps them)."""

    exchanges: list[tuple[float, requests.Response]] = field(default_factory=list)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.exchanges.append((time.monotonic() - response.elapsed.total_seconds(), response))

    def attach(self, session: requests.Session) -> None:
        session.hooks["response"].append(self.hook)

    def sent(self) -> list[Sent]:
        found: list[Sent] = []
        for at, response in sorted(self.exchanges, key=lambda exchange: exchange[0]):
            body = response.request.body
            if response.request.url and response.request.url.endswith("/$batch") and body:
                carried = len(json.loads(body)["requests"])
                if response.status_code == 429:
                    admitted = 0
                else:
                    answers = response.json().get("responses") or []
                    admitted = sum(1 for answer in answers if answer.get("status") != 429)
            else:
                carried, admitted = 1, int(response.status_code != 429)
            found.append(Sent(at=at, requests=carried, admitted=admitted))
        return found


def covered(intervals: Sequence[tuple[float, float]]) -> float:
    """Seconds inside at least one interval (threads that wait together count once)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def most_in_a_window(sent: Sequence[Sent], *, window: float, admitted: bool) -> int:
    """The most requests (sent, or admitted) within any sliding `window` seconds."""
    most = total = first = 0
    for item in sent:
        total += item.admitted if admitted else item.requests
        while sent[first].at <= item.at - window:
            total -= sent[first].admitted if admitted else sent[first].requests
            first += 1
        most = max(most, total)
    return most


# -- cards and the stand-in -----------------------------------------------------------------


def make_cards(count: int) -> list[ContactCard]:
    from syncengine.rendering import contact_uid

    return [
        bench_card(
            n,
            uid=contact_uid(context_identifier=TENANT, person_id=n),
            email_domain="customer.example",
            cell=True,
        )
        for n in range(1, count + 1)
    ]


@dataclass(frozen=True)
class Organisation:
    directory_id: str
    users: dict[str, dict[str, Any]]  # by role: "warmup", "bare", "product"


def organisation_made(control: MicrosoftControl) -> Organisation:
    directory_id = control.directory_create(name="Bench AS", domain=DOMAIN)
    control.consent_set(directory_id=directory_id, granted=True)
    users = {
        role: control.user_create(
            directory_id=directory_id,
            display_name=f"{role.title()} Mailbox",
            mail=f"{role}@{DOMAIN}",
        )
        for role in ("warmup", "bare", "product")
    }
    return Organisation(directory_id=directory_id, users=users)


def app_token(process: MicrosoftProcess, *, directory_id: str) -> str:
    response = process.app_token_answer(tenant=directory_id)
    response.raise_for_status()
    return str(response.json()["access_token"])


# -- (a) the bare loop ----------------------------------------------------------------------


class BareLoop:
    """`$batch`es of ≤ 20 pre-rendered creates on `CONCURRENCY` threads. A 429 puts the
    sub-request back with its Retry-After and holds the whole mailbox back that long."""

    def __init__(self, *, graph_url: str, token: str, user_id: str) -> None:
        self.batch_url = f"{graph_url}/v1.0/$batch"
        self.mailbox = f"/users/{user_id}"
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Prefer": IMMUTABLE_IDS})
        self.condition = threading.Condition()
        self.ready: list[dict[str, Any]] = []
        self.delayed: list[tuple[float, dict[str, Any]]] = []
        self.paused_until = 0.0
        self.remaining = 0
        self.failure = ""
        # When the mailbox was held back for a Retry-After (monotonic start, end).
        self.waits: list[tuple[float, float]] = []

    def folder_made(self) -> str:
        response = self.session.post(
            f"{self.batch_url.removesuffix('/$batch')}{self.mailbox}/contactFolders",
            json={"displayName": FOLDER},
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["id"])

    def entries(self, *, folder_id: str, bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        url = f"{self.mailbox}/contactFolders/{folder_id}/contacts"
        headers = {"Prefer": IMMUTABLE_IDS, "Content-Type": "application/json"}
        return [
            {"id": str(n), "method": "POST", "url": url, "headers": headers, "body": body}
            for n, body in enumerate(bodies, start=1)
        ]

    def run(self, entries: list[dict[str, Any]]) -> float:
        with self.condition:
            self.ready, self.remaining = list(entries), len(entries)
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            for future in [pool.submit(self._work) for _ in range(CONCURRENCY)]:
                future.result()
        if self.failure:
            raise SystemExit(f"bare loop failed: {self.failure}")
        return time.perf_counter() - started

    def _take(self) -> list[dict[str, Any]] | None:
        """The next batch to send, None when everything is written; waits as needed."""
        with self.condition:
            while True:
                if self.remaining == 0 or self.failure:
                    return None
                now = time.monotonic()
                due = [entry for at, entry in self.delayed if at <= now]
                if due:
                    self.delayed = [(at, entry) for at, entry in self.delayed if at > now]
                    self.ready[:0] = due
                wake = [at for at, _ in self.delayed]
                if self.paused_until > now:
                    wake.append(self.paused_until)
                elif self.ready:
                    taken, self.ready = self.ready[:BATCH], self.ready[BATCH:]
                    return taken
                self.condition.wait(timeout=(min(wake) - now) if wake else None)

    def _work(self) -> None:
        while (taken := self._take()) is not None:
            sent = dict(enumerate(taken, start=1))
            requests_ = [{**entry, "id": str(n)} for n, entry in sent.items()]
            try:
                response = self.session.post(
                    self.batch_url, json={"requests": requests_}, timeout=60
                )
            except requests.RequestException as error:
                self._fail(str(error))
                return
            now = time.monotonic()
            answers: list[dict[str, Any]]
            if response.status_code == 429:
                headers = dict(response.headers)
                answers = [{"id": str(n), "status": 429, "headers": headers} for n in sent]
            elif response.status_code == 200:
                answers = response.json()["responses"]
            else:
                self._fail(f"HTTP {response.status_code} {response.text[:300]}")
                return
            with self.condition:
                for answer in answers:
                    entry = sent[int(answer["id"])]
                    if answer["status"] == 429:
                        wait = float((answer.get("headers") or {}).get("Retry-After") or 1)
                        self.delayed.append((now + wait, entry))
                        self.paused_until = max(self.paused_until, now + wait)
                        self.waits.append((now, now + wait))
                    elif answer["status"] in (200, 201):
                        self.remaining -= 1
                    else:
                        self.failure = f"sub-request answered {answer['status']}: {answer}"
                self.condition.notify_all()

    def _fail(self, why: str) -> None:
        with self.condition:
            self.failure = why
            self.condition.notify_all()


# -- (b) the product ------------------------------------------------------------------------


def django_setup(*, process: MicrosoftProcess, database: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "synchronizer.settings"
    os.environ.setdefault("DEBUG", "true")
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    # Our own keys, whatever else the Redis holds.
    os.environ["REDIS_KEY_PREFIX"] = f"bench-microsoft-{uuid.uuid4().hex[:8]}"
    os.environ.update(
        {
            "MICROSOFT_LOGIN_URL": process.login_url,
            "MICROSOFT_GRAPH_URL": process.graph_url,
            "MICROSOFT_CA_BUNDLE": str(process.ca_bundle),
            "MICROSOFT_CLIENT_ID": process.client_id,
            "MICROSOFT_CLIENT_SECRET": process.client_secret,
            "MICROSOFT_MAILBOX_BUDGET": str(BUDGET),
            "MICROSOFT_MAILBOX_BUDGET_WINDOW_SECONDS": str(WINDOW_SECONDS),
            "MICROSOFT_MAILBOX_CONCURRENCY": str(CONCURRENCY),
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def target_account_made(*, organisation: Organisation) -> TargetAccount:
    from django.utils import timezone

    from profiles.models import Environment, MicrosoftAccess, TargetAccount, TargetKind, Tenant
    from profiles.services import linked_user_link, profile_create

    tenant = Tenant.objects.create(
        context_identifier=TENANT,
        name="Bench",
        environment=Environment.CUSTOM,
        webapi_url=f"http://127.0.0.1:9/{TENANT}/api/",
    )
    profile = profile_create(
        tenant=tenant, name="Bench 365", target_kind=TargetKind.MICROSOFT_GRAPH
    )
    connection = profile.microsoft_connection
    connection.access = MicrosoftAccess.APPLICATION
    connection.directory_id = organisation.directory_id
    connection.consented_at = timezone.now()
    connection.folder_name = FOLDER
    connection.save()
    user = organisation.users["product"]
    linked = linked_user_link(profile=profile, associate_id=7, email=user["mail"])
    account, _ = TargetAccount.objects.update_or_create(
        linked_user=linked, defaults={"username": user["mail"], "remote_user_id": user["id"]}
    )
    return account


@dataclass
class ProductResult:
    seconds: float
    counts: dict[str, int]
    failures: list[str]
    budget_waits: float
    in_target: float  # inside GraphTarget.write_many (the HTTP part), the rest is the writer's
    profile: pstats.Stats | None


def product_run(
    *, account: TargetAccount, cards: Sequence[ContactCard], recorder: Recorder, profile: bool
) -> ProductResult:
    from syncengine.models import RunKind, SyncRun
    from syncengine.targets.microsoft.target import GraphTarget
    from syncengine.writing import Writer

    target = GraphTarget.from_account(target_account=account)
    recorder.attach(target.client.session)
    assert target.folder_id  # found or made before the clock starts, as for the bare loop
    slept: list[tuple[float, float]] = []
    budget = target.client.budget
    if budget is not None:
        budget.sleep = timed_sleep(budget.sleep, slept)
    profiles: list[cProfile.Profile] = []
    if profile:
        profiled_batches(target, profiles)
    in_target = timed_write_many(target)
    run = SyncRun.objects.create(
        linked_user=account.linked_user, kind=RunKind.FIRST, progress_total=len(cards)
    )
    writer = Writer(run=run, target=target, existing={})
    provenance = frozenset({"selection:5"})
    main = cProfile.Profile() if profile else None
    started = time.perf_counter()
    with main if main is not None else contextlib.nullcontext():
        writer.create_all([(card, provenance) for card in cards])
    seconds = time.perf_counter() - started
    target.close()
    stats: pstats.Stats | None = None
    if main is not None:
        stats = pstats.Stats(main)
        for each in profiles:
            stats.add(each)
    return ProductResult(
        seconds=seconds,
        counts=dict(writer.counts),
        failures=writer.failures[:3],
        budget_waits=covered(slept),
        in_target=in_target[0],
        profile=stats,
    )


def timed_sleep(
    sleep: Callable[[float], None], intervals: list[tuple[float, float]]
) -> Callable[[float], None]:
    """The budget's sleep, noting when it slept (any thread; list.append is atomic)."""

    def timed(seconds: float) -> None:
        started = time.monotonic()
        sleep(seconds)
        intervals.append((started, time.monotonic()))

    return timed


def timed_write_many(target: Any) -> list[float]:
    """Seconds spent inside the target's write_many (called on the writer's thread)."""
    write_many = target.write_many
    total = [0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return write_many(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - started

    target.write_many = timed
    return total


def profiled_batches(target: Any, profiles: list[cProfile.Profile]) -> None:
    """Each `$batch` call on the pool threads under its own profiler (one per thread)."""
    batch = target.client.batch
    lock = threading.Lock()

    def profiled(*args: Any, **kwargs: Any) -> Any:
        profiler = cProfile.Profile()
        try:
            return profiler.runcall(batch, *args, **kwargs)
        finally:
            with lock:
                profiles.append(profiler)

    target.client.batch = profiled


# -- the report -----------------------------------------------------------------------------


def report(
    label: str,
    *,
    seconds: float,
    waited: float,
    count: int,
    sent: Sequence[Sent],
    usage: dict[str, Any],
) -> None:
    total = sum(item.requests for item in sent)
    windows: list[int] = []
    for item in sent:
        number = int((item.at - sent[0].at) // WINDOW_SECONDS)
        windows.extend([0] * (number + 1 - len(windows)))
        windows[number] += item.requests
    scale = MICROSOFT_BUDGET / BUDGET
    most_sent = most_in_a_window(sent, window=WINDOW_SECONDS, admitted=False)
    most_admitted = most_in_a_window(sent, window=WINDOW_SECONDS, admitted=True)
    verdict = "within budget" if most_sent <= BUDGET else "OVER BUDGET"
    print(f"{label}  {seconds:8.2f} s  {count / seconds:8.1f} contacts/s")
    print(
        f"    held back by the budget {waited:.2f} s; the rest {seconds - waited:.2f} s "
        f"({count / max(seconds - waited, 1e-9):.1f} contacts/s)"
    )
    print(
        f"    requests sent: {total:,} in {len(sent):,} HTTP requests; per {WINDOW_SECONDS} s "
        f"window from the first: {', '.join(f'{n:,}' for n in windows)} (at Microsoft's "
        f"scale, per 10 min: {', '.join(f'{round(n * scale):,}' for n in windows)})"
    )
    print(
        f"    most in any {WINDOW_SECONDS} s window: {most_sent:,} sent, {most_admitted:,} "
        f"admitted, of {BUDGET:,} ({round(most_sent * scale):,} of "
        f"{MICROSOFT_BUDGET:,} per 10 min at Microsoft's scale): {verdict}"
    )
    print(
        f"    stand-in: {usage.get('requests', 0):,} requests, {usage.get('throttled', 0):,} "
        f"throttled (429), at most {usage.get('max_concurrent', 0)} in flight"
    )


@contextlib.contextmanager
def environment() -> Iterator[Path]:
    with contextlib.ExitStack() as stack:
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = stack.enter_context(embedded_redis_server())
        yield Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-microsoft-")))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="run (b) under cProfile")
    args = parser.parse_args()
    count: int = args.contacts

    with environment() as folder, MicrosoftProcess(data_dir=folder / "microsoft") as process:
        control = process.control()
        control.throttling_set(
            concurrency=CONCURRENCY, budget=BUDGET, window_seconds=WINDOW_SECONDS
        )
        organisation = organisation_made(control)
        django_setup(process=process, database=folder / "bench.sqlite3")
        from syncengine.targets.microsoft.contacts import create_json

        cards = make_cards(count)
        bodies = [create_json(card=card) for card in cards]
        token = app_token(process, directory_id=organisation.directory_id)
        print(
            f"Microsoft 365 stand-in: {CONCURRENCY} in flight, {BUDGET:,} requests per "
            f"{WINDOW_SECONDS} s per mailbox (Microsoft: {MICROSOFT_BUDGET:,} per "
            f"{MICROSOFT_WINDOW_SECONDS // 60} min); "
            f"{count:,} contacts each",
            flush=True,
        )

        # Warm the stand-in up (imports, caches) in a mailbox of its own.
        warmup = BareLoop(
            graph_url=process.graph_url, token=token, user_id=organisation.users["warmup"]["id"]
        )
        warmup.run(warmup.entries(folder_id=warmup.folder_made(), bodies=bodies[:100]))

        bare_recorder = Recorder()
        bare = BareLoop(
            graph_url=process.graph_url, token=token, user_id=organisation.users["bare"]["id"]
        )
        bare_recorder.attach(bare.session)
        entries = bare.entries(folder_id=bare.folder_made(), bodies=bodies)
        print("(a) the bare loop …", flush=True)
        bare_seconds = bare.run(entries)

        print("(b) the product …", flush=True)
        product_recorder = Recorder()
        account = target_account_made(organisation=organisation)
        product = product_run(
            account=account, cards=cards, recorder=product_recorder, profile=args.profile
        )

        usage = control.stats()["mailboxes"]
        written = {
            role: len(control.contacts_of(user=organisation.users[role]["id"]))
            for role in ("bare", "product")
        }

    bare_rate, product_rate = count / bare_seconds, count / product.seconds
    print()
    report(
        "(a) bare $batch loop:        ",
        seconds=bare_seconds,
        waited=covered(bare.waits),
        count=count,
        sent=bare_recorder.sent(),
        usage=usage.get(f"bare@{DOMAIN}", {}),
    )
    print(f"    mailbox holds {written['bare']:,} contacts")
    report(
        "(b) Writer.create_all:       ",
        seconds=product.seconds,
        waited=product.budget_waits,
        count=count,
        sent=product_recorder.sent(),
        usage=usage.get(f"product@{DOMAIN}", {}),
    )
    print(f"    mailbox holds {written['product']:,} contacts; writer counts {product.counts}")
    print(
        f"    inside GraphTarget.write_many {product.in_target:.2f} s, the writer's own work "
        f"around it (mapping rows, counts) {product.seconds - product.in_target:.2f} s"
    )
    for failure in product.failures:
        print(f"    failure: {failure}")
    print(f"ratio b/a:                     {product_rate / bare_rate:8.3f}  (aim: >= 0.9)")
    bare_busy = bare_seconds - covered(bare.waits)
    product_busy = product.seconds - product.budget_waits
    print(f"ratio b/a outside the waits:   {bare_busy / product_busy:8.3f}")
    if product.profile is not None:
        for key in ("tottime", "cumulative"):
            print(f"\n(b) under cProfile, by {key} (every thread):")
            out = io.StringIO()
            product.profile.stream = out  # type: ignore[attr-defined]
            product.profile.sort_stats(key).print_stats(30)
            print(out.getvalue())


if __name__ == "__main__":
    main()
