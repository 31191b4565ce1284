"""What comparing the mapping with the mailbox costs, against reading every card of ours.

    .venv/bin/python bench/healing.py --cards 1000 --drift 10

Starts its own Radicale, writes the cards, then measures in the same run:
  (a) CardDAVTarget.listing(): what a housekeeping run over an unchanged book sends
      (one PROPFIND, etags only),
  (b) CardDAVTarget.list_own(): every card of ours read in full (what comparing by
      content would cost, and what a rebuild from marks reads),
  (c) listing() plus marks() for `--drift` cards edited in the mailbox: what a
      housekeeping run reads before it overwrites them,
and prints requests, bytes received and time of each, and the ratios a/b and c/b.
Prints, never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import django
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synchronizer.settings")
# The settings insist on these; nothing in this benchmark talks to Redis.
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
django.setup()

from cards import make_cards  # noqa: E402

from devservers.radicale import RadicaleProcess  # noqa: E402
from syncengine.targets.carddav import CardDAVTarget  # noqa: E402
from syncengine.targets.carddav_discovery import carddav_addressbook_create  # noqa: E402

ROUNDS = 5


class Meter:
    """Requests and bytes received through one target's session."""

    def __init__(self, target: CardDAVTarget) -> None:
        self.requests = self.received = 0
        target.session.hooks["response"].append(self.count)

    def count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests += 1
        self.received += len(response.content)


def measure(target: CardDAVTarget, step: Callable[[], object]) -> tuple[float, float, float]:
    """Seconds, requests and bytes of one step, averaged over a few rounds."""
    meter = Meter(target)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        step()
    seconds = (time.perf_counter() - started) / ROUNDS
    return seconds, meter.requests / ROUNDS, meter.received / ROUNDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--drift", type=int, default=10)
    arguments = parser.parse_args()
    cards = make_cards(arguments.cards)

    with RadicaleProcess() as radicale:
        username, password = "bench", "bench-password"
        radicale.add_user(username, password)
        book = carddav_addressbook_create(
            home_url=urljoin(radicale.url, f"{username}/"),
            username=username,
            password=password,
            name="healing",
        )
        writer = CardDAVTarget(collection_url=book, username=username, password=password)
        written = [writer.create(card=card) for card in cards]
        for card, contact in zip(cards[: arguments.drift], written, strict=False):
            writer.update(ref=contact.ref, etag=contact.etag, card=card)  # a new etag
        writer.close()
        edited = [contact.ref for contact in written[: arguments.drift]]

        def drift(target: CardDAVTarget) -> object:
            return target.listing(), target.marks(edited)

        steps: dict[str, Callable[[CardDAVTarget], object]] = {
            "listing": CardDAVTarget.listing,
            "list_own": CardDAVTarget.list_own,
            "drift": drift,
        }
        results = {}
        for name, step in steps.items():
            target = CardDAVTarget(collection_url=book, username=username, password=password)
            step(target)  # warm up
            results[name] = measure(target, partial(step, target))
            target.close()

    print(f"cards in the book:                    {arguments.cards}")
    for label, name in (
        ("(a) listing (unchanged housekeeping)", "listing"),
        ("(b) list_own (every card read)", "list_own"),
        (f"(c) listing + marks of {arguments.drift} edited", "drift"),
    ):
        seconds, sent, received = results[name]
        kib = received / 1024
        print(f"{label:<38}{seconds * 1000:9.1f} ms {sent:5.0f} requests {kib:9.1f} KiB")
    base = results["list_own"]
    print(f"ratio a/b (time):                     {results['listing'][0] / base[0]:9.3f}")
    print(f"ratio a/b (bytes):                    {results['listing'][2] / base[2]:9.3f}")
    print(f"ratio c/b (time):                     {results['drift'][0] / base[0]:9.3f}")


if __name__ == "__main__":
    main()
