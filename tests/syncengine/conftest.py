"""Fixtures of the engine's tests against the live sandbox: Ingrid's runs into a
recording target, and what her sources name right now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from profiles.models import LinkedUser
from syncengine.models import RunKind, SyncRun
from syncengine.planner import PreferenceChange
from syncengine.services import sync_run_execute, sync_window_for
from syncengine.superoffice import reads, selections
from syncengine.superoffice.client import superoffice_client_for_linked_user
from syncengine.targets.memory import RecordingTarget

Runner = Callable[..., SyncRun]


@pytest.fixture
def target() -> RecordingTarget:
    return RecordingTarget()


@pytest.fixture
def run_sync(ingrid_link: LinkedUser, target: RecordingTarget) -> Runner:
    """Run the engine once for Ingrid, as a worker would."""

    def run(kind: RunKind, *, change: PreferenceChange | None = None, **trigger: Any) -> SyncRun:
        if change is not None:
            trigger["preference_change"] = change.as_json()
        sync_run = SyncRun.objects.create(linked_user=ingrid_link, kind=kind, trigger=trigger)
        ingrid_link.refresh_from_db()
        with superoffice_client_for_linked_user(linked_user=ingrid_link) as client:
            return sync_run_execute(run=sync_run, client=client, target=target)

    return run


@pytest.fixture
def read() -> Callable[..., frozenset[int]]:
    """What a source names right now, read straight from SuperOffice."""

    def read_source(ingrid: LinkedUser, source: str, **kwargs: Any) -> frozenset[int]:
        with superoffice_client_for_linked_user(linked_user=ingrid) as client:
            if source == "appointments":
                window = sync_window_for(linked_user=ingrid, now=timezone.now())
                return reads.appointment_person_ids(client=client, associate_id=1, window=window)
            if source == "selection":
                return frozenset(selections.selection_members(client=client, **kwargs))
            if source == "favourite_companies":
                companies = reads.favourite_company_ids(client=client, associate_id=1)
                return frozenset(reads.persons_at_companies(client=client, company_ids=companies))
            return frozenset(reads.favourite_persons(client=client, associate_id=1))

    return read_source
