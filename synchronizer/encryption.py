"""Encryption at rest for secrets (tokens, passwords) in the database.

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256) made with the first key of
settings.FIELD_ENCRYPTION_KEYS; every listed key can still decrypt, which is what lets
keys rotate: put a new key first, run `manage.py rotate_encryption_keys`, drop the old.
"""

from __future__ import annotations

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import models, transaction


class EncryptionKeyError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@functools.lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain_text: str) -> str:
    return _fernet().encrypt(plain_text.encode()).decode()


def decrypt(cipher_text: str) -> str:
    try:
        return _fernet().decrypt(cipher_text.encode()).decode()
    except InvalidToken:
        raise EncryptionKeyError(
            "A stored secret cannot be decrypted: its key is not in FIELD_ENCRYPTION_KEYS."
        ) from None


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column whose value is stored encrypted. It cannot be searched or ordered."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) pair in the project that holds an encrypted value."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField)
    ]


def rotate_encrypted_values() -> int:
    """Re-encrypt every stored secret with the newest key; returns how many were rewritten.

    Reading decrypts with whichever configured key made the value, and writing encrypts
    with the first key, so a read followed by a write is the whole rotation.
    """
    rewritten = 0
    for model, field_name in encrypted_fields():
        manager = model._default_manager
        stored = manager.exclude(**{f"{field_name}__isnull": True}).exclude(**{field_name: ""})
        with transaction.atomic():
            for pk, plain_text in list(stored.values_list("pk", field_name)):
                manager.filter(pk=pk).update(**{field_name: plain_text})
                rewritten += 1
    return rewritten
