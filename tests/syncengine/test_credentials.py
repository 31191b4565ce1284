from __future__ import annotations

from profiles.models import LinkedUser, TargetAccount
from syncengine.credentials import target_credentials_save
from syncengine.models import PersonMapping, RunKind, RunStatus, SyncRun
from tests.plugins.radicale import RadicaleHelper


def test_moving_to_another_address_book_refills_it_in_full(
    ingrid_link: LinkedUser, radicale: RadicaleHelper, published_runs: list[int]
) -> None:
    profile = ingrid_link.profile
    profile.carddav_url = radicale.url
    profile.save()
    username, password = radicale.new_user("mover")
    first_book = radicale.new_addressbook(username, password, name="first")
    target_credentials_save(linked_user=ingrid_link, username=username, password=password)
    SyncRun.objects.filter(linked_user=ingrid_link).update(status=RunStatus.SUCCEEDED)
    PersonMapping.objects.create(linked_user=ingrid_link, person_id=7, target_uid="u7")
    other_username, other_password = radicale.new_user("mover")
    radicale.new_addressbook(other_username, other_password, name="second")

    account = target_credentials_save(
        linked_user=ingrid_link, username=other_username, password=other_password
    )

    assert account.collection_url != first_book
    assert not PersonMapping.objects.filter(linked_user=ingrid_link).exists()
    assert (
        SyncRun.objects.get(linked_user=ingrid_link, status=RunStatus.QUEUED).kind
        == RunKind.HOUSEKEEPING
    )


def test_saving_the_same_address_book_again_keeps_the_state(
    ingrid_link: LinkedUser, radicale: RadicaleHelper
) -> None:
    profile = ingrid_link.profile
    profile.carddav_url = radicale.url
    profile.save()
    username, password = radicale.new_user("stayer")
    radicale.new_addressbook(username, password)
    target_credentials_save(linked_user=ingrid_link, username=username, password=password)
    PersonMapping.objects.create(linked_user=ingrid_link, person_id=7, target_uid="u7")

    target_credentials_save(linked_user=ingrid_link, username=username, password="")

    assert PersonMapping.objects.filter(linked_user=ingrid_link).count() == 1
    assert TargetAccount.objects.get(linked_user=ingrid_link).secret == password
