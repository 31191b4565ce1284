"""Contact cards for tests that do not care about a person's details."""

from __future__ import annotations

from datetime import date

from syncengine.rendering import ContactCard, Phone


def card(person_id: int, *, name: str = "") -> ContactCard:
    return ContactCard(
        uid=f"uid-{person_id}",
        person_id=person_id,
        display_name=name or f"Person {person_id}",
        first_name="",
        middle_name="",
        last_name="",
        salutation="",
        job_title="",
        organization="",
        department="",
        emails=(),
        phones=(Phone(number="1", kind="work", preferred=True),),
        birthday=date(1990, 1, 1),
    )
