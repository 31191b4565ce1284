from __future__ import annotations

from profiles.models import LinkedUser, SyncProfile, Tenant, User
from profiles.selectors import (
    linked_users_for_profile,
    linked_users_for_tenant,
    links_for_user,
    profiles_for_tenant,
)
from profiles.services import profile_create


def test_profiles_for_tenant_is_scoped(
    acme: Tenant, acme_profile: SyncProfile, globex_profile: SyncProfile
) -> None:
    deleted = profile_create(tenant=acme, name="Old")
    deleted.soft_delete()

    assert list(profiles_for_tenant(tenant=acme)) == [acme_profile]
    assert set(profiles_for_tenant(tenant=acme, include_deleted=True)) == {acme_profile, deleted}


def test_linked_users_for_profile_is_scoped(
    acme_profile: SyncProfile,
    alice_link: LinkedUser,
    bob_link: LinkedUser,
    charlie_link: LinkedUser,
) -> None:
    bob_link.soft_delete()

    assert list(linked_users_for_profile(profile=acme_profile)) == [alice_link]
    assert set(linked_users_for_profile(profile=acme_profile, include_deleted=True)) == {
        alice_link,
        bob_link,
    }


def test_linked_users_for_tenant_skips_deleted_profiles_and_other_tenants(
    acme: Tenant, globex: Tenant, alice_link: LinkedUser, charlie_link: LinkedUser
) -> None:
    assert list(linked_users_for_tenant(tenant=acme)) == [alice_link]
    assert list(linked_users_for_tenant(tenant=globex)) == [charlie_link]

    alice_link.profile.soft_delete()
    assert not linked_users_for_tenant(tenant=acme).exists()


def test_links_for_user_are_their_own(
    alice: User, bob: User, charlie: User, alice_link: LinkedUser, charlie_link: LinkedUser
) -> None:
    assert list(links_for_user(user=alice)) == [alice_link]
    assert list(links_for_user(user=charlie)) == [charlie_link]
    assert not links_for_user(user=bob).exists()


def test_links_for_user_without_tenant_is_empty(db: None) -> None:
    operator = User.objects.create_user(username="op", is_staff=True)

    assert not links_for_user(user=operator).exists()
