from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from profiles.models import LinkedUser, SyncProfile, Tenant, User


def test_soft_delete_hides_and_undelete_restores(acme_profile: SyncProfile) -> None:
    acme_profile.soft_delete()

    assert acme_profile.is_deleted
    assert not SyncProfile.objects.alive().filter(pk=acme_profile.pk).exists()
    assert SyncProfile.objects.deleted().filter(pk=acme_profile.pk).exists()

    acme_profile.undelete()

    assert not acme_profile.is_deleted
    assert SyncProfile.objects.alive().filter(pk=acme_profile.pk).exists()


def test_soft_delete_keeps_the_first_deletion_time(acme_profile: SyncProfile) -> None:
    acme_profile.soft_delete()
    first = acme_profile.deleted_at

    acme_profile.soft_delete()

    acme_profile.refresh_from_db()
    assert acme_profile.deleted_at == first


def test_runnable_links_are_enabled_and_not_deleted_anywhere(
    acme_profile: SyncProfile, alice_link: LinkedUser, bob_link: LinkedUser
) -> None:
    assert set(LinkedUser.objects.runnable()) == {alice_link, bob_link}
    assert alice_link.is_runnable

    bob_link.is_enabled = False
    bob_link.save()
    assert set(LinkedUser.objects.runnable()) == {alice_link}

    acme_profile.soft_delete()
    alice_link.refresh_from_db()
    assert not LinkedUser.objects.runnable().exists()
    assert not alice_link.is_runnable


def test_one_live_link_per_associate_but_deleted_links_do_not_count(
    acme_profile: SyncProfile, alice_link: LinkedUser
) -> None:
    duplicate = {
        "tenant": alice_link.tenant,
        "profile": acme_profile,
        "associate_id": alice_link.associate_id,
        "email": alice_link.email,
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        LinkedUser.objects.create(**duplicate)

    alice_link.soft_delete()
    assert LinkedUser.objects.create(**duplicate).pk


def test_an_associate_is_one_user_per_tenant(acme: Tenant, globex: Tenant, alice: User) -> None:
    # The same associate id in another tenant is another person.
    User.objects.create_user(username="Cust20002:1", tenant=globex, associate_id=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="other", tenant=acme, associate_id=alice.associate_id)


def test_tenant_and_associate_go_together(acme: Tenant) -> None:
    User.objects.create_user(username="operator", is_staff=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="half", tenant=acme)


def test_percent_cannot_exceed_100(acme_profile: SyncProfile) -> None:
    acme_profile.mass_delete_max_percent = 101
    with pytest.raises(IntegrityError), transaction.atomic():
        acme_profile.save()
