from __future__ import annotations

from dataclasses import replace

import pytest

from syncengine.reconciler import KEPT_KEY, Mapped, MassDeleteGuard, SourceOutcome, reconcile
from tests.syncengine.cards import card

GUARD = MassDeleteGuard(max_percent=50, max_count=25)
NO_GUARD = MassDeleteGuard(max_percent=100, max_count=10**9)
A, S1, S2, FC, FP = (
    "appointments",
    "selection:1",
    "selection:2",
    "favourite_companies",
    "favourite_persons",
)


def mapped(person_id: int, *keys: str, name: str = "") -> Mapped:
    return Mapped(
        person_id=person_id,
        provenance=frozenset(keys),
        content_hash=card(person_id, name=name).content_hash,
    )


def test_new_persons_are_created_once_whatever_number_of_sources_name_them() -> None:
    result = reconcile(
        mapped={},
        outcomes=[
            SourceOutcome(key=S1, person_ids=frozenset({1, 2})),
            SourceOutcome(key=FP, person_ids=frozenset({2})),
        ],
        enabled=frozenset({S1, FP}),
        cards={1: card(1), 2: card(2)},
        guard=GUARD,
    )

    assert [(c.person_id, p) for c, p in result.creates] == [
        (1, frozenset({S1})),
        (2, frozenset({S1, FP})),
    ]
    assert result.deletes == []


def test_an_unchanged_person_is_not_written() -> None:
    result = reconcile(
        mapped={1: mapped(1, S1)},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset({1}))],
        enabled=frozenset({S1}),
        cards={1: card(1)},
        guard=GUARD,
    )

    assert result.writes == 0
    assert result.unchanged == 1
    assert result.provenance_only == {}


def test_a_changed_person_is_updated() -> None:
    result = reconcile(
        mapped={1: mapped(1, S1)},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset({1}))],
        enabled=frozenset({S1}),
        cards={1: card(1, name="Renamed")},
        guard=GUARD,
    )

    assert [(c.display_name, p) for c, p in result.updates] == [("Renamed", frozenset({S1}))]


def test_a_source_read_gives_complete_membership() -> None:
    # Person 2 left selection 1 but is a favourite: it keeps the contact.
    result = reconcile(
        mapped={1: mapped(1, S1), 2: mapped(2, S1, FP), 3: mapped(3, S1)},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset({1}))],
        enabled=frozenset({S1, FP}),
        cards={1: card(1)},
        guard=NO_GUARD,
    )

    assert result.deletes == [3]
    assert result.provenance_only == {2: frozenset({FP})}


def test_sources_not_read_keep_their_persons() -> None:
    result = reconcile(
        mapped={1: mapped(1, S1), 2: mapped(2, A)},
        outcomes=[SourceOutcome(key=A, person_ids=frozenset({2}))],
        enabled=frozenset({A, S1}),
        cards={2: card(2)},
        guard=GUARD,
    )

    assert result.deletes == []
    assert result.unchanged == 2


def test_a_failed_source_changes_nothing_for_its_persons() -> None:
    result = reconcile(
        mapped={1: mapped(1, S1), 2: mapped(2, S1, FP)},
        outcomes=[
            SourceOutcome(key=S1, error="Selection “VIP” is dynamic now"),
            SourceOutcome(key=FP, person_ids=frozenset()),
        ],
        enabled=frozenset({S1, FP}),
        cards={},
        guard=NO_GUARD,
    )

    assert result.deletes == []
    assert result.provenance_only == {2: frozenset({S1})}


def test_a_removed_source_loses_its_persons_even_unread() -> None:
    result = reconcile(
        mapped={1: mapped(1, S2), 2: mapped(2, S2, S1)},
        outcomes=[],
        enabled=frozenset({A, S1}),
        cards={},
        guard=GUARD,
    )

    assert result.deletes == [1]
    assert result.provenance_only == {2: frozenset({S1})}


def test_a_person_named_but_gone_from_superoffice_is_skipped() -> None:
    result = reconcile(
        mapped={},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset({1, 2}))],
        enabled=frozenset({S1}),
        cards={1: card(1)},
        guard=GUARD,
    )

    assert [c.person_id for c, _ in result.creates] == [1]
    assert result.missing == [2]


def _many(count: int, *keys: str) -> dict[int, Mapped]:
    return {pid: mapped(pid, *keys) for pid in range(1, count + 1)}


@pytest.mark.parametrize(
    ("synced", "dropped", "held"),
    [
        (100, 26, False),  # over 25 but not over 50 %
        (40, 21, False),  # over 50 % but not over 25
        (52, 26, False),  # exactly 50 %: not more than half
        (50, 26, True),  # over both
    ],
)
def test_mass_delete_guard_needs_both_thresholds(synced: int, dropped: int, held: bool) -> None:
    kept = frozenset(range(dropped + 1, synced + 1))

    result = reconcile(
        mapped=_many(synced, S1),
        outcomes=[SourceOutcome(key=S1, person_ids=kept)],
        enabled=frozenset({S1}),
        cards={},
        guard=GUARD,
    )

    if held:
        assert result.deletes == []
        assert result.held_deletes == list(range(1, dropped + 1))
        assert all(result.provenance_only[p] == frozenset() for p in result.held_deletes)
    else:
        assert result.deletes == list(range(1, dropped + 1))
        assert result.held_deletes == []


def test_deletions_from_a_source_the_user_removed_are_never_held() -> None:
    result = reconcile(
        mapped=_many(60, S2),
        outcomes=[],
        enabled=frozenset({A}),
        cards={},
        guard=GUARD,
        removed_by_user=frozenset({S2}),
    )

    assert len(result.deletes) == 60
    assert result.held_deletes == []


def test_deletions_from_a_source_removed_otherwise_go_through_the_guard() -> None:
    # An administrator's removal (or one no change of the user's explains).
    result = reconcile(
        mapped=_many(60, S2), outcomes=[], enabled=frozenset({A}), cards={}, guard=GUARD
    )

    assert result.deletes == []
    assert len(result.held_deletes) == 60


def test_a_person_also_lost_to_a_source_the_user_kept_is_guarded() -> None:
    many = {pid: mapped(pid, S1, S2) for pid in range(1, 61)}
    result = reconcile(
        mapped=many,
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset())],
        enabled=frozenset({S1}),
        cards={},
        guard=GUARD,
        removed_by_user=frozenset({S2}),
    )

    assert len(result.held_deletes) == 60


def test_confirmed_deletions_are_deleted_outside_the_guard() -> None:
    result = reconcile(
        # 30 of 50: the guard would hold them, unconfirmed.
        mapped={**_many(20, S1), **{pid: mapped(pid) for pid in range(61, 91)}},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset(range(1, 21)))],
        enabled=frozenset({S1}),
        cards={},
        guard=GUARD,
        confirmed=frozenset(range(61, 91)),
    )

    assert sorted(result.deletes) == list(range(61, 91))
    assert result.held_deletes == []


def test_kept_persons_stay_without_a_source_and_are_never_held() -> None:
    kept = {pid: mapped(pid, KEPT_KEY) for pid in range(1, 31)}
    chosen = {pid: mapped(pid) for pid in range(31, 61)}  # decided "keep" just now

    result = reconcile(
        mapped=kept | chosen,
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset())],
        enabled=frozenset({S1}),
        cards={},
        guard=GUARD,
        keep=frozenset(chosen),
    )

    assert result.deletes == []
    assert result.held_deletes == []
    assert result.provenance_only == dict.fromkeys(chosen, frozenset({KEPT_KEY}))
    assert result.unchanged == 60


def test_kept_ends_when_a_source_names_the_person_again() -> None:
    result = reconcile(
        mapped={1: mapped(1, KEPT_KEY), 2: _gone(2, KEPT_KEY)},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset({1}))],
        enabled=frozenset({S1}),
        cards={1: card(1)},
        guard=GUARD,
    )

    # Named again: an ordinary contact of S1 from now on. Deleted in the mailbox while
    # kept: forgotten, never created again.
    assert result.provenance_only == {1: frozenset({S1})}
    assert (result.deletes, result.forgets) == ([], [2])


def test_held_persons_stay_held_until_named_again() -> None:
    # Held in an earlier run: a contact with no provenance. Named again: kept.
    result = reconcile(
        mapped={1: mapped(1), 2: mapped(2)},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset({1}))],
        enabled=frozenset({S1}),
        cards={1: card(1)},
        guard=GUARD,
    )

    assert result.provenance_only == {1: frozenset({S1})}
    assert result.deletes == [2]


# --- drift found in the target's listing (syncengine.healing) --------------------------------


def _gone(person_id: int, *keys: str) -> Mapped:
    return replace(mapped(person_id, *keys), present=False)


def test_a_card_gone_from_the_target_is_created_again_while_wanted() -> None:
    result = reconcile(
        mapped={1: _gone(1, S1), 2: _gone(2, S1, A)},
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset({1}))],
        enabled=frozenset({S1, A}),
        cards={1: card(1)},
        guard=GUARD,
    )

    # Unchanged in the CRM, but not in the mailbox any more: written again, as a create.
    assert [(c.person_id, p) for c, p in result.creates] == [(1, frozenset({S1}))]
    assert result.updates == []
    # Person 2 keeps the unread source's key; without a card to write it waits.
    assert result.unchanged == 1


def test_forgetting_cards_already_gone_is_never_held_and_not_counted_as_synced() -> None:
    gone = {pid: _gone(pid, S1) for pid in range(1, 41)}
    present = {pid: mapped(pid, S1) for pid in range(41, 61)}
    leaving_present = frozenset(range(41, 47))  # 6 of the 20 present: under both limits

    result = reconcile(
        mapped=gone | present,
        outcomes=[SourceOutcome(key=S1, person_ids=frozenset(range(47, 61)))],
        enabled=frozenset({S1}),
        cards={},
        guard=MassDeleteGuard(max_percent=25, max_count=5),
    )

    # 40 rows of cards already gone are only records: they go at once, with nothing to
    # delete. The guard weighs the 6 real deletions against the 20 cards the mailbox
    # holds: over 25 % and over 5.
    assert sorted(result.forgets) == list(range(1, 41))
    assert result.deletes == []
    assert sorted(result.held_deletes) == sorted(leaving_present)
