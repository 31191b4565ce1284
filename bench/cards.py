"""The benchmarks' made-up persons as contact cards: the same fields in every benchmark,
so their numbers compare.

Imported by the scripts beside it after they set Django up (``syncengine.rendering`` is
imported when a card is made, not before).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncengine.rendering import ContactCard


def bench_card(
    n: int, *, uid: str | None = None, email_domain: str = "bench.example", cell: bool = False
) -> ContactCard:
    """Person `n` (uid ``superoffice-bench-person-<n>`` unless given); `cell` adds a mobile."""
    from syncengine.rendering import ContactCard, Phone

    phones = [Phone(number=f"+47 {n:08d}", kind="work", preferred=True)]
    if cell:
        phones.append(Phone(number=f"+47 9{n:07d}", kind="cell", preferred=False))
    return ContactCard(
        uid=uid or f"superoffice-bench-person-{n}",
        person_id=n,
        display_name=f"Bench Person {n:06d}",
        first_name="Bench",
        middle_name="",
        last_name=f"Person {n:06d}",
        salutation="Mx.",
        job_title="Tester",
        organization="Bench AS",
        department="Load",
        emails=(f"person{n:06d}@{email_domain}",),
        phones=tuple(phones),
        birthday=date(1980, 1, 1 + n % 28),
    )


def make_cards(count: int) -> list[ContactCard]:
    """Persons 0 to `count` - 1."""
    return [bench_card(n) for n in range(count)]
