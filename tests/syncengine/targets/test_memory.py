from __future__ import annotations

import pytest

from syncengine.targets import TARGETS
from syncengine.targets.base import ContactExists, ContactGone
from syncengine.targets.memory import RecordingTarget
from tests.syncengine.cards import card


def test_create_update_delete_are_recorded() -> None:
    target = RecordingTarget()

    written = target.create(card=card(1))
    updated = target.update(ref=written.ref, etag=written.etag, card=card(1, name="New"))
    target.delete(ref=updated.ref, etag=updated.etag, uid="uid-1")

    assert target.calls == [("create", 1), ("update", 1), ("delete", 1)]
    assert written.etag != updated.etag
    assert target.person_ids == set()


def test_a_second_create_of_the_same_uid_is_refused_with_the_existing_contact() -> None:
    target = RecordingTarget()
    written = target.create(card=card(1))

    with pytest.raises(ContactExists) as raised:
        target.create(card=card(1))

    assert raised.value.existing == written
    assert len(target.contacts) == 1


def test_changes_to_a_missing_contact_say_so() -> None:
    target = RecordingTarget()

    with pytest.raises(ContactGone):
        target.update(ref="/contacts/nope.vcf", etag='"1"', card=card(1))
    with pytest.raises(ContactGone):
        target.delete(ref="/contacts/nope.vcf", etag='"1"', uid="nope")


def test_list_own_rebuilds_what_is_there() -> None:
    target = RecordingTarget()
    target.create(card=card(1))
    target.create(card=card(2))

    assert sorted(c.person_id for c in target.list_own()) == [1, 2]


def test_every_profile_target_kind_that_exists_is_listed() -> None:
    assert set(TARGETS) == {"carddav", "graph"}
