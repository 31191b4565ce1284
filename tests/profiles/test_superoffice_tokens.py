from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from profiles.models import SuperOfficeToken, User
from profiles.superoffice.tokens import (
    SignInRequired,
    SuperOfficeUnavailable,
    superoffice_access_token_get,
)
from sandbox.testing import SandboxControl, sign_in


@pytest.fixture
def signed_in(sandbox: SandboxControl, alice: User) -> SuperOfficeToken:
    """alice holds real sandbox tokens of the administrator of Cust10001."""
    tokens = sign_in(base_url=sandbox.base_url, email="ingrid.haugen@nordlys-demo.example")
    return SuperOfficeToken.objects.create(
        user=alice,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        expires_at=timezone.now() + timedelta(seconds=int(tokens["expires_in"])),
    )


def test_a_valid_token_is_used_as_it_is(
    sandbox: SandboxControl, signed_in: SuperOfficeToken, alice: User
) -> None:
    with override_settings(SUPEROFFICE_ENVIRONMENT="http://127.0.0.1:1"):
        # No request is made, so an unreachable server does not matter.
        assert superoffice_access_token_get(user=alice) == signed_in.access_token


def test_a_token_about_to_expire_is_refreshed(
    sandbox: SandboxControl, signed_in: SuperOfficeToken, alice: User
) -> None:
    SuperOfficeToken.objects.filter(pk=signed_in.pk).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )

    with override_settings(SUPEROFFICE_ENVIRONMENT=sandbox.base_url):
        token = superoffice_access_token_get(user=alice)

    assert token != signed_in.access_token
    stored = SuperOfficeToken.objects.get(pk=signed_in.pk)
    assert stored.expires_at > timezone.now() + timedelta(minutes=5)
    # SuperOffice sends no new refresh token: the old one is kept.
    assert stored.refresh_token == signed_in.refresh_token


def test_an_unreachable_login_service_is_transient(
    signed_in: SuperOfficeToken, alice: User
) -> None:
    with (
        override_settings(SUPEROFFICE_ENVIRONMENT="http://127.0.0.1:1"),
        pytest.raises(SuperOfficeUnavailable, match="did not answer"),
    ):
        superoffice_access_token_get(user=alice, force_refresh=True)

    assert SuperOfficeToken.objects.get(pk=signed_in.pk).refresh_failed_at is None


def test_wrong_client_credentials_are_an_operator_problem_not_the_users(
    sandbox: SandboxControl, signed_in: SuperOfficeToken, alice: User
) -> None:
    with (
        override_settings(
            SUPEROFFICE_ENVIRONMENT=sandbox.base_url, SUPEROFFICE_CLIENT_SECRET="wrong"
        ),
        pytest.raises(SignInRequired, match="SUPEROFFICE_CLIENT_SECRET"),
    ):
        superoffice_access_token_get(user=alice, force_refresh=True)

    assert SuperOfficeToken.objects.get(pk=signed_in.pk).refresh_failed_at is None


def test_a_user_who_never_signed_in_has_no_token(bob: User) -> None:
    with pytest.raises(SignInRequired, match="has not signed in"):
        superoffice_access_token_get(user=bob)


def test_while_another_process_refreshes_we_wait_for_its_token(
    sandbox: SandboxControl,
    signed_in: SuperOfficeToken,
    alice: User,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from profiles.superoffice import tokens

    SuperOfficeToken.objects.filter(pk=signed_in.pk).update(expires_at=timezone.now())
    lock_key = f"superoffice:token-refresh:{alice.pk}"
    cache.add(lock_key, "1", timeout=30)

    def the_other_process_finishes(seconds: float) -> None:
        # While we wait, the other process stores its new token and lets go of the lock.
        token = SuperOfficeToken.objects.get(pk=signed_in.pk)
        token.access_token = "8A:Cust10001.from-the-other-process"
        token.expires_at = timezone.now() + timedelta(hours=1)
        token.save(update_fields=["access_token", "expires_at"])
        cache.delete(lock_key)

    monkeypatch.setattr(tokens, "sleep", the_other_process_finishes)
    with override_settings(SUPEROFFICE_ENVIRONMENT="http://127.0.0.1:1"):
        # No request of ours: an unreachable login service would fail it.
        token = superoffice_access_token_get(user=alice)

    assert token == "8A:Cust10001.from-the-other-process"
