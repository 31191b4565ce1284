"""Settings load in a fresh interpreter for each case, as a real process would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 60 + "-production-secret-with-enough-variety-0123456789",
    "ALLOWED_HOSTS": "synchronizer.example.com",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "SUPEROFFICE_CLIENT_ID": "client",
    "SUPEROFFICE_CLIENT_SECRET": "secret",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "DATABASE_URL": "sqlite:////tmp/synchronizer-settings-test.sqlite3",
}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**clean, "DJANGO_SETTINGS_MODULE": "synchronizer.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_variables() -> None:
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing",
    ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "SUPEROFFICE_CLIENT_ID", "SUPEROFFICE_CLIENT_SECRET"],
)
def test_secrets_are_required_when_debug_is_off(missing: str) -> None:
    env = {**PRODUCTION_ENV, missing: ""}

    result = _run(["-c", "import django; django.setup()"], env)

    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_debug_falls_back_to_development_secrets() -> None:
    env = {"DEBUG": "true", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SUPEROFFICE_CLIENT_ID, s.SUPEROFFICE_ENVIRONMENT, len(s.FIELD_ENCRYPTION_KEYS))"
    )

    result = _run(["-c", code], {**env, "SECRET_KEY": "", "FIELD_ENCRYPTION_KEYS": ""})

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["synchronizer-demo", "http://127.0.0.1:8001", "1"]


def test_redis_url_is_required_with_a_helpful_message() -> None:
    result = _run(["-c", "import django; django.setup()"], {**PRODUCTION_ENV, "REDIS_URL": ""})

    assert result.returncode != 0
    assert "REDIS_URL is not set" in result.stderr
    assert "scripts/demo" in result.stderr


def test_database_url_selects_postgresql() -> None:
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['ENGINE'], d['NAME'], d['CONN_HEALTH_CHECKS'])"
    )
    env = {**PRODUCTION_ENV, "DATABASE_URL": "postgres://u:p@db.example:5432/sync"}

    result = _run(["-c", code], env)

    assert result.stdout.split() == ["django.db.backends.postgresql", "sync", "True"]
