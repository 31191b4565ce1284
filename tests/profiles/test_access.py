from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from profiles.access import (
    get_linked_user_for_user,
    get_own_linked_user_for_user,
    get_profile_for_admin,
)
from profiles.models import LinkedUser, SyncProfile, User


class TestGetProfileForAdmin:
    def test_admin_of_the_tenant_gets_it(self, alice: User, acme_profile: SyncProfile) -> None:
        assert get_profile_for_admin(user=alice, code=acme_profile.code) == acme_profile

    def test_member_without_admin_rights_is_refused(
        self, bob: User, acme_profile: SyncProfile
    ) -> None:
        with pytest.raises(PermissionDenied):
            get_profile_for_admin(user=bob, code=acme_profile.code)

    def test_admin_of_another_tenant_gets_404(
        self, charlie: User, acme_profile: SyncProfile
    ) -> None:
        with pytest.raises(Http404):
            get_profile_for_admin(user=charlie, code=acme_profile.code)

    def test_anonymous_and_staff_without_tenant_get_404(
        self, acme_profile: SyncProfile, db: None
    ) -> None:
        operator = User.objects.create_user(username="op", is_staff=True, is_superuser=True)
        for user in (AnonymousUser(), operator):
            with pytest.raises(Http404):
                get_profile_for_admin(user=user, code=acme_profile.code)  # type: ignore[arg-type]

    def test_unknown_code_gets_404(self, alice: User, acme_profile: SyncProfile) -> None:
        with pytest.raises(Http404):
            get_profile_for_admin(user=alice, code=uuid.uuid4())

    def test_deleted_profile_only_when_asked_for(
        self, alice: User, acme_profile: SyncProfile
    ) -> None:
        acme_profile.soft_delete()

        with pytest.raises(Http404):
            get_profile_for_admin(user=alice, code=acme_profile.code)
        assert (
            get_profile_for_admin(user=alice, code=acme_profile.code, include_deleted=True)
            == acme_profile
        )


class TestGetLinkedUserForUser:
    def test_owner_gets_their_link(self, bob: User, bob_link: LinkedUser) -> None:
        assert get_linked_user_for_user(user=bob, code=bob_link.code) == bob_link

    def test_admin_gets_any_link_of_the_tenant(self, alice: User, bob_link: LinkedUser) -> None:
        assert get_linked_user_for_user(user=alice, code=bob_link.code) == bob_link

    def test_another_member_gets_404(self, bob: User, alice_link: LinkedUser) -> None:
        with pytest.raises(Http404):
            get_linked_user_for_user(user=bob, code=alice_link.code)

    def test_another_tenant_gets_404(self, charlie: User, bob_link: LinkedUser) -> None:
        with pytest.raises(Http404):
            get_linked_user_for_user(user=charlie, code=bob_link.code)

    def test_links_of_deleted_profiles_are_gone(
        self, bob: User, acme_profile: SyncProfile, bob_link: LinkedUser
    ) -> None:
        acme_profile.soft_delete()

        with pytest.raises(Http404):
            get_linked_user_for_user(user=bob, code=bob_link.code, include_deleted=True)

    def test_deleted_link_only_when_asked_for(self, alice: User, bob_link: LinkedUser) -> None:
        bob_link.soft_delete()

        with pytest.raises(Http404):
            get_linked_user_for_user(user=alice, code=bob_link.code)
        assert get_linked_user_for_user(user=alice, code=bob_link.code, include_deleted=True)


class TestGetOwnLinkedUserForUser:
    def test_owner_gets_their_link(self, bob: User, bob_link: LinkedUser) -> None:
        assert get_own_linked_user_for_user(user=bob, code=bob_link.code) == bob_link

    def test_admin_of_the_tenant_gets_403(self, alice: User, bob_link: LinkedUser) -> None:
        with pytest.raises(PermissionDenied):
            get_own_linked_user_for_user(user=alice, code=bob_link.code)

    def test_another_member_gets_404(self, bob: User, alice_link: LinkedUser) -> None:
        with pytest.raises(Http404):
            get_own_linked_user_for_user(user=bob, code=alice_link.code)

    def test_another_tenant_gets_404(self, charlie: User, bob_link: LinkedUser) -> None:
        with pytest.raises(Http404):
            get_own_linked_user_for_user(user=charlie, code=bob_link.code)

    def test_a_deleted_link_gets_404(self, bob: User, bob_link: LinkedUser) -> None:
        bob_link.soft_delete()

        with pytest.raises(Http404):
            get_own_linked_user_for_user(user=bob, code=bob_link.code)
