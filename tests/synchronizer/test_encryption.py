from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from profiles.models import LinkedUser, SuperOfficeToken, TargetAccount, User
from synchronizer.encryption import EncryptionKeyError, encrypted_fields

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def _raw(model: type, pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s",  # type: ignore[attr-defined]  # noqa: S608
            [pk],
        )
        value: str = cursor.fetchone()[0]
        return value


@pytest.fixture
def token(alice: User) -> SuperOfficeToken:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        return SuperOfficeToken.objects.create(
            user=alice,
            access_token="8A:Cust10001.access-secret",
            refresh_token="refresh-secret",
            expires_at="2030-01-01T00:00:00Z",
        )


def test_secrets_are_stored_encrypted_and_read_back_plain(token: SuperOfficeToken) -> None:
    raw = _raw(SuperOfficeToken, token.pk, "access_token")

    assert "access-secret" not in raw
    assert Fernet(OLD_KEY.encode()).decrypt(raw.encode()) == b"8A:Cust10001.access-secret"
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        reloaded = SuperOfficeToken.objects.get(pk=token.pk)
    assert reloaded.access_token == "8A:Cust10001.access-secret"
    assert reloaded.refresh_token == "refresh-secret"


def test_a_missing_key_is_a_clear_error(token: SuperOfficeToken) -> None:
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]),
        pytest.raises(EncryptionKeyError, match="not in FIELD_ENCRYPTION_KEYS"),
    ):
        SuperOfficeToken.objects.get(pk=token.pk)


def test_key_rotation_re_encrypts_every_secret(
    token: SuperOfficeToken, alice_link: LinkedUser
) -> None:
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        account = TargetAccount.objects.create(
            linked_user=alice_link, username="alice", secret="app-password"
        )
        empty = TargetAccount.objects.create(
            linked_user=LinkedUser.objects.create(
                tenant=alice_link.tenant, profile=alice_link.profile, associate_id=9, email="x@y.z"
            )
        )

    # The new key goes first; the old one stays until everything is rotated.
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert SuperOfficeToken.objects.get(pk=token.pk).refresh_token == "refresh-secret"
        call_command("rotate_encryption_keys", verbosity=0)

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        reloaded = SuperOfficeToken.objects.get(pk=token.pk)
        assert reloaded.access_token == "8A:Cust10001.access-secret"
        assert reloaded.refresh_token == "refresh-secret"
        assert TargetAccount.objects.get(pk=account.pk).secret == "app-password"
        assert TargetAccount.objects.get(pk=empty.pk).secret == ""
    raw = _raw(TargetAccount, account.pk, "secret")
    assert Fernet(NEW_KEY.encode()).decrypt(raw.encode()) == b"app-password"


def test_every_secret_column_is_encrypted() -> None:
    fields = {(model.__name__, name) for model, name in encrypted_fields()}

    assert fields == {
        ("SuperOfficeToken", "access_token"),
        ("SuperOfficeToken", "refresh_token"),
        ("TargetAccount", "secret"),
    }
