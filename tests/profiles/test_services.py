from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from profiles.models import LinkedUser, SyncProfile, Tenant, User
from profiles.services import (
    linked_user_delete,
    linked_user_link,
    linked_user_undelete,
    profile_create,
    profile_delete,
    profile_undelete,
)


def test_profile_create_validates(acme: Tenant) -> None:
    with pytest.raises(ValidationError) as raised:
        profile_create(tenant=acme, name="CardDAV", carddav_url="not a url")

    assert "carddav_url" in raised.value.message_dict
    assert not SyncProfile.objects.exists()


def test_link_attaches_the_user_who_already_signed_in(acme_profile: SyncProfile, bob: User) -> None:
    linked = linked_user_link(profile=acme_profile, associate_id=2, email="bob@acme.example")

    assert linked.user == bob
    assert linked.tenant == acme_profile.tenant


def test_link_before_sign_in_waits_without_a_user(acme_profile: SyncProfile) -> None:
    linked = linked_user_link(profile=acme_profile, associate_id=77, email="new@acme.example")

    assert linked.user is None


def test_an_associate_cannot_be_linked_twice(
    acme: Tenant, acme_profile: SyncProfile, alice_link: LinkedUser
) -> None:
    other_profile = profile_create(tenant=acme, name="Second")

    with pytest.raises(ValidationError, match="already linked to the profile “Acme mailboxes”"):
        linked_user_link(profile=other_profile, associate_id=1, email="alice@acme.example")

    assert LinkedUser.objects.count() == 1


def test_a_deleted_profile_takes_no_links(acme_profile: SyncProfile) -> None:
    profile_delete(profile=acme_profile)

    with pytest.raises(ValidationError, match="undelete it"):
        linked_user_link(profile=acme_profile, associate_id=5, email="e@acme.example")


def test_profile_delete_and_undelete(acme_profile: SyncProfile, alice_link: LinkedUser) -> None:
    profile_delete(profile=acme_profile)
    alice_link.refresh_from_db()
    assert not alice_link.is_runnable

    profile_undelete(profile=acme_profile)
    alice_link.refresh_from_db()
    assert alice_link.is_runnable


def test_undelete_link_restores_the_same_row(alice_link: LinkedUser) -> None:
    linked_user_delete(linked_user=alice_link)
    assert not LinkedUser.objects.alive().exists()

    linked_user_undelete(linked_user=alice_link)

    assert list(LinkedUser.objects.alive()) == [alice_link]


def test_undelete_is_refused_when_the_associate_was_linked_again(
    acme: Tenant, alice_link: LinkedUser
) -> None:
    linked_user_delete(linked_user=alice_link)
    other_profile = profile_create(tenant=acme, name="Second")
    relinked = linked_user_link(profile=other_profile, associate_id=1, email="alice@acme.example")

    with pytest.raises(ValidationError, match="linked to the profile “Second” now"):
        linked_user_undelete(linked_user=alice_link)

    alice_link.refresh_from_db()
    assert alice_link.is_deleted
    assert list(LinkedUser.objects.alive()) == [relinked]


def test_only_a_deleted_profile_can_be_removed_for_good(
    acme_profile: SyncProfile, alice_link: LinkedUser
) -> None:
    from profiles.services import profile_delete_permanently

    with pytest.raises(ValidationError, match="Delete the profile first"):
        profile_delete_permanently(profile=acme_profile)
    assert SyncProfile.objects.filter(pk=acme_profile.pk).exists()

    profile_delete(profile=acme_profile)
    profile_delete_permanently(profile=acme_profile)

    assert not SyncProfile.objects.filter(pk=acme_profile.pk).exists()
    assert not LinkedUser.objects.filter(pk=alice_link.pk).exists()
