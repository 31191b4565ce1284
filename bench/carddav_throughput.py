"""How close CardDAVTarget.create comes to bare HTTP PUTs on the same Radicale.

    .venv/bin/python bench/carddav_throughput.py --cards 2000

Starts its own Radicale, then measures in the same run:
  (a) a bare loop of PUTs (If-None-Match: *) of pre-rendered vCards on one session,
  (b) CardDAVTarget.create for the same cards into another, equally fresh address book,
and prints both throughputs and the ratio b/a (aim: ≥ 0.95). Radicale slows down as a
book grows, so both books get the same number of cards. Prints, never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
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
from syncengine.rendering import ContactCard  # noqa: E402
from syncengine.targets.carddav import (  # noqa: E402
    VCARD_CONTENT_TYPE,
    CardDAVTarget,
    dav_session,
    vcard_render,
)
from syncengine.targets.carddav_discovery import carddav_addressbook_create  # noqa: E402

CHUNK = 50


def bare_puts(
    *, session: requests.Session, collection_url: str, cards: list[ContactCard], bodies: list[bytes]
) -> float:
    headers = {"If-None-Match": "*", "Content-Type": VCARD_CONTENT_TYPE}
    started = time.perf_counter()
    for card, body in zip(cards, bodies, strict=True):
        url = urljoin(collection_url, f"{card.uid}.vcf")
        response = session.put(url, data=body, headers=headers, timeout=30)
        if response.status_code != 201:
            raise SystemExit(f"bare PUT failed: HTTP {response.status_code} {response.text}")
    return time.perf_counter() - started


def target_creates(*, target: CardDAVTarget, cards: list[ContactCard]) -> float:
    started = time.perf_counter()
    for card in cards:
        target.create(card=card)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=2000)
    count = parser.parse_args().cards
    cards = make_cards(count)
    bodies = [vcard_render(card=card).encode() for card in cards]

    with RadicaleProcess() as radicale:
        username, password = "bench", "bench-password"
        radicale.add_user(username, password)
        home = urljoin(radicale.url, f"{username}/")
        books = {
            name: carddav_addressbook_create(
                home_url=home, username=username, password=password, name=name
            )
            for name in ("warmup", "bare", "target")
        }
        session = dav_session(username=username, password=password)
        target = CardDAVTarget(collection_url=books["target"], username=username, password=password)
        # Warm Radicale up (imports, caches) so neither measurement pays for it.
        bare_puts(
            session=session, collection_url=books["warmup"], cards=cards[:50], bodies=bodies[:50]
        )
        # Interleaved chunks: both books grow together and share whatever else the
        # machine is doing, so the ratio compares like with like.
        bare = created = 0.0
        for start in range(0, count, CHUNK):
            chunk = slice(start, start + CHUNK)
            bare += bare_puts(
                session=session,
                collection_url=books["bare"],
                cards=cards[chunk],
                bodies=bodies[chunk],
            )
            created += target_creates(target=target, cards=cards[chunk])
        session.close()
        target.close()

    bare_rate, target_rate = count / bare, count / created
    print(f"cards per run:                 {count}")
    print(f"(a) bare PUT loop:             {bare:8.2f} s  {bare_rate:8.1f} cards/s")
    print(f"(b) CardDAVTarget.create:      {created:8.2f} s  {target_rate:8.1f} cards/s")
    print(f"ratio b/a:                     {target_rate / bare_rate:8.3f}  (aim: >= 0.95)")


if __name__ == "__main__":
    main()
